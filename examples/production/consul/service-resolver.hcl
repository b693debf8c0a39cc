# The canary is a subset of storefront (instances registered with Meta.version = "canary").
Kind           = "service-resolver"
Name           = "storefront"
ConnectTimeout = "2s"
DefaultSubset  = "stable"
Subsets = {
  stable = { Filter = "Service.Meta.version != canary" }
  canary = { Filter = "Service.Meta.version == canary" }
}
LoadBalancer = { Policy = "least_request" }   # Consul 1.9+
