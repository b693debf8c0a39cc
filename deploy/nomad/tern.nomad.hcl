# tern as a Nomad service job: two replicas (they hand out identical versions, so a proxy may move
# between them), registered in Consul with a /readyz check, configuration and certificates rendered
# from Consul and Vault by template stanzas. Adjust datacenters, the Vault paths and the binary path.
#
# The embedded tern.yaml (template "local/tern.yaml") is checked by the test nomad_deploy_test:
# with test addresses substituted it passes `tern validate`.
job "tern" {
  datacenters = ["dc1"]
  type        = "service"

  # One replica at a time; a new version must be ready (/readyz passing in Consul) for 10 s before
  # the next one is replaced, and a version that never gets ready is rolled back.
  update {
    max_parallel      = 1
    health_check      = "checks"
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = true
    stagger           = "30s"
  }

  group "tern" {
    count = 2

    # Never two replicas on one host: losing a host must leave one serving.
    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    network {
      port "xds" {
        static = 18000
      }
      port "admin" {}
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "10s"
      mode     = "delay"
    }

    # Envoys and proxyless clients find tern here (tern-xds.service.consul:18000).
    service {
      name     = "tern-xds"
      port     = "xds"
      provider = "consul"
      tags     = ["xds"]

      check {
        name     = "tern ready"
        type     = "http"
        port     = "admin"
        path     = "/readyz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    # The admin API (status page, /metrics). /readyz and /metrics need no token; / and /debug/* do.
    service {
      name     = "tern-admin"
      port     = "admin"
      provider = "consul"
      tags     = ["metrics"]

      check {
        name     = "tern alive"
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    # The audit log outlives allocations: a host volume (client config: host_volume "tern-audit").
    volume "audit" {
      type      = "host"
      source    = "tern-audit"
      read_only = false
    }

    task "tern" {
      driver = "exec"

      config {
        command = "/usr/local/bin/tern"
        args    = ["serve", "--config", "local/tern.yaml"]
      }

      volume_mount {
        volume      = "audit"
        destination = "/var/lib/tern"
      }

      vault {
        policies    = ["tern"]
        change_mode = "restart"
      }

      # tern.yaml. Paths are relative to this file (local/), so ../secrets is the task's secrets dir.
      template {
        destination = "local/tern.yaml"
        change_mode = "restart"
        data        = <<EOH
xds:
  address: "0.0.0.0:{{ env "NOMAD_PORT_xds" }}"
  tls:
    cert_file: ../secrets/tls/tern.pem
    key_file: ../secrets/tls/tern-key.pem
    ca_file: ../secrets/tls/ca.pem
    require_client_cert: true
    client_identity: "{node_cluster}"
admin:
  address: "{{ env "NOMAD_IP_admin" }}:{{ env "NOMAD_PORT_admin" }}"
  token_file: ../secrets/admin-token
consul:
  address: "https://{{ env "attr.unique.network.ip-address" }}:8501"
  token_file: ../secrets/consul-token
  consistency: stale
  tls:
    ca_file: ../secrets/tls/consul-ca.pem
nomad:
  address: "https://{{ env "attr.unique.network.ip-address" }}:4646"
  token_file: ../secrets/nomad-token
audit:
  path: /var/lib/tern/audit.jsonl
log:
  level: info
EOH
      }

      # tern's xDS server certificate from Vault's PKI. The three templates make the same `secret`
      # call, which Nomad's template runner shares, so certificate, key and CA are one issuance.
      # tern reads its own certificate at start: a new one restarts the task (update is rolling,
      # proxies reconnect to the other replica and get identical versions).
      template {
        destination = "secrets/tls/tern.pem"
        change_mode = "restart"
        splay       = "5m"
        data        = <<EOH
{{ with secret "pki/issue/tern" "common_name=tern-xds.service.consul" "ttl=72h" }}{{ .Data.certificate }}{{ end }}
EOH
      }

      template {
        destination = "secrets/tls/tern-key.pem"
        change_mode = "restart"
        splay       = "5m"
        perms       = "0400"
        data        = <<EOH
{{ with secret "pki/issue/tern" "common_name=tern-xds.service.consul" "ttl=72h" }}{{ .Data.private_key }}{{ end }}
EOH
      }

      template {
        destination = "secrets/tls/ca.pem"
        change_mode = "restart"
        data        = <<EOH
{{ with secret "pki/issue/tern" "common_name=tern-xds.service.consul" "ttl=72h" }}{{ .Data.issuing_ca }}{{ end }}
EOH
      }

      # Consul's CA, from Consul's KV (or Vault); tokens from Vault's Consul and Nomad secret engines.
      template {
        destination = "secrets/tls/consul-ca.pem"
        change_mode = "restart"
        data        = <<EOH
{{ key "tern/consul-ca.pem" }}
EOH
      }

      template {
        destination = "secrets/consul-token"
        change_mode = "restart"
        perms       = "0400"
        data        = <<EOH
{{ with secret "consul/creds/tern" }}{{ .Data.token }}{{ end }}
EOH
      }

      template {
        destination = "secrets/nomad-token"
        change_mode = "restart"
        perms       = "0400"
        data        = <<EOH
{{ with secret "nomad/creds/tern" }}{{ .Data.secret_id }}{{ end }}
EOH
      }

      template {
        destination = "secrets/admin-token"
        change_mode = "restart"
        perms       = "0400"
        data        = <<EOH
{{ with secret "secret/data/tern/admin" }}{{ .Data.data.token }}{{ end }}
EOH
      }

      resources {
        cpu    = 1000 # MHz
        memory = 512  # MB; about 42 KiB per idle xDS stream plus the snapshots (docs/performance.md)
      }

      kill_timeout = "20s"
    }
  }
}
