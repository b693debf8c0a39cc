# The edge gateway: Envoys with node.cluster = "edge" get it from tern.
Kind = "ingress-gateway"
Name = "edge"
TLS { Enabled = true }   # Connect CA leaf for "edge"
# tern's rate limits (docs/consul.md): "<requests per second>:<burst>", per Envoy instance.
Meta {
  "tern.rate_limit"                    = "2000:4000"
  "tern.rate_limit.service.storefront" = "1000:2000"
}
Listeners = [
  {
    Port     = 8443
    Protocol = "http"
    Services = [
      {
        Name  = "storefront"
        Hosts = ["shop.example", "www.shop.example"]
        RequestHeaders  { Set = { x-forwarded-proto = "https" }, Remove = ["x-internal-debug"] }   # Consul 1.9+
        ResponseHeaders { Set = { x-frame-options = "DENY" }, Remove = ["server"] }
      }
    ]
  }
]
