# 95/5 canary.
Kind = "service-splitter"
Name = "storefront"
Splits = [
  { Weight = 95, ServiceSubset = "stable" },
  { Weight = 5,  ServiceSubset = "canary" },
]
