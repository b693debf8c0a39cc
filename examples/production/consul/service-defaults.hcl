# consul config write service-defaults.hcl (one entry per file in Consul; split if your Consul
# version refuses several). The protocols make the services routable at L7.
Kind     = "service-defaults"
Name     = "storefront"
Protocol = "http"
