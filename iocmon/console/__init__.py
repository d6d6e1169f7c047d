"""Console tools for engineers and on-call: the terminal wall and one-shot queries.

Each module holds one command (a `click.Command` object that `iocmon.cli` wires in) and keeps
its rendering pure: functions that take the API's JSON and return lines, tested without any
service. Only `client` talks HTTP to the worker; only `doctor` and `topics` talk to Kafka,
Redis and Prometheus, and they import those clients when run, so `iocmon --help` stays fast.

    status / live   wall.py (frame) + status.py (loop)     overdue    overdue.py
    dossier         dossier.py                              doctor     doctor.py
    topics          topics.py
    report          report.py (command) + report_doc.py (the answer, read once),
                    report_labels.py, report_render.py (table, CSV), report_xlsx.py
"""
