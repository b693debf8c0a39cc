# Tern-wide gateway telemetry, as Consul users already write it for their Envoys.
# consul config write proxy-defaults.hcl
Kind = "proxy-defaults"
Name = "global"
Config {
  protocol = "http"
  # OpenTelemetry over gRPC to the collector defined just below.
  envoy_tracing_json = <<EOT
{
  "http": {
    "name": "envoy.tracers.opentelemetry",
    "typedConfig": {
      "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
      "grpcService": { "envoyGrpc": { "clusterName": "otel-collector" } },
      "serviceName": "shop-gateways"
    }
  }
}
EOT
  envoy_extra_static_clusters_json = <<EOT
{
  "name": "otel-collector",
  "type": "STATIC",
  "connect_timeout": "3s",
  "http2_protocol_options": {},
  "load_assignment": {
    "cluster_name": "otel-collector",
    "endpoints": [ { "lb_endpoints": [ { "endpoint": { "address": {
      "socket_address": { "address": "10.0.9.10", "port_value": 4317 } } } } ] } ]
  }
}
EOT
}
# Consul 1.15+ (remove this block for older Consul).
AccessLogs {
  Enabled = true
  Type    = "stdout"
}
