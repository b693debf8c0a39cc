Kind = "service-router"
Name = "storefront"
Routes = [
  {
    Match { HTTP { PathPrefix = "/checkout/", Methods = ["GET", "POST"] } }
    Destination {
      Service               = "checkout"
      RequestTimeout        = "10s"
      IdleTimeout           = "30s"                  # Consul 1.15+
      NumRetries            = 2
      RetryOnConnectFailure = true
      RetryOn               = ["reset"]              # Consul 1.15+
      RequestHeaders { Add = { x-gateway = "edge" } }  # Consul 1.9+
    }
  },
  {
    Match { HTTP { Header = [ { Name = "x-canary", Exact = "1" } ] } }
    Destination { Service = "storefront", ServiceSubset = "canary" }
  },
  {
    Match { HTTP { PathPrefix = "/" } }
    Destination {
      Service            = "storefront"
      RequestTimeout     = "15s"
      NumRetries         = 3
      RetryOn            = ["gateway-error", "reset"]
      RetryOnStatusCodes = [503]
    }
  },
]
