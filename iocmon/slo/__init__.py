"""The on-time SLO: one objective (`IOCMON_ON_TIME_OBJECTIVE`) and everything that follows
from it: whether a ratio meets it (the terminal wall, the API's rankings), the dashboards'
colours, and the Prometheus rules generated from it (`iocmon.slo.rules`)."""
