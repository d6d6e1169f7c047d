"""Grafana dashboards of iocmon, generated as code (`python -m dashboards.generate`).

The committed `*.json` files beside this package are its output; Grafana loads them through
the provisioning in `deploy/grafana/`. See `dashboards/README.md`.
"""
