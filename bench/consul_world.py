#!/usr/bin/env python3
"""Loads a synthetic world into a real Consul agent, for `make bench`'s Consul scenario.

S services x I instances registered through the catalog API (one external node per instance
index, each instance with one service check), a `proxy-defaults` entry making every service
HTTP, and G `ingress-gateway` entries (gw-0000 .. gw-NNNN, as tern-loadgen names its node clusters; one HTTP listener each) exposing the
first K services. Also writes, for the load generator, the request bodies of the changes:
flip-k.json turns instance 0 of svc-k critical, restore-k.json makes it passing again; both are
`PUT /v1/catalog/register` bodies.

Usage: consul_world.py --consul 127.0.0.1:8500 --out DIR --services 1000 --instances 10
                       --gateways 10 --exposed 100 --flips 5
"""
import argparse
import http.client
import json
import os
import sys


def registration(svc, inst, status):
    node = f"node-{inst}"
    sid = f"svc-{svc}-{inst}"
    return {
        "Node": node,
        "Address": f"10.{inst}.0.1",
        "Service": {
            "ID": sid,
            "Service": f"svc-{svc}",
            "Address": f"10.{inst}.{svc // 250}.{svc % 250 + 1}",
            "Port": 8000 + inst,
            "Meta": {"instance": str(inst)},
        },
        "Check": {
            "Node": node,
            "CheckID": f"{sid}-health",
            "Name": "health",
            "Status": status,
            "ServiceID": sid,
        },
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--consul", required=True, help="host:port of Consul's HTTP API")
    ap.add_argument("--out", required=True)
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--instances", type=int, default=10)
    ap.add_argument("--gateways", type=int, default=10)
    ap.add_argument("--exposed", type=int, default=100)
    ap.add_argument("--flips", type=int, default=5)
    a = ap.parse_args()

    host, port = a.consul.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)  # keep-alive: one connection

    def put(path, body):
        conn.request("PUT", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        text = resp.read().decode()
        if resp.status != 200:
            sys.exit(f"consul_world: PUT {path} -> {resp.status}: {text.strip()}")

    put("/v1/config", {"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": "http"}})
    for s in range(a.services):
        for i in range(a.instances):
            put("/v1/catalog/register", registration(s, i, "passing"))
    exposed = [{"Name": f"svc-{s}"} for s in range(min(a.exposed, a.services))]
    for g in range(a.gateways):
        put("/v1/config", {"Kind": "ingress-gateway", "Name": f"gw-{g:04d}",
                           "Listeners": [{"Port": 8080, "Protocol": "http", "Services": exposed}]})

    os.makedirs(a.out, exist_ok=True)
    for k in range(a.flips):
        svc = k % max(1, min(a.exposed, a.services))
        with open(os.path.join(a.out, f"flip-{k}.json"), "w") as f:
            json.dump(registration(svc, 0, "critical"), f)
        with open(os.path.join(a.out, f"restore-{k}.json"), "w") as f:
            json.dump(registration(svc, 0, "passing"), f)
    print(f"consul_world: {a.services} services x {a.instances} instances, {a.gateways} gateways "
          f"x {len(exposed)} exposed, {a.flips} flips")


if __name__ == "__main__":
    main()
