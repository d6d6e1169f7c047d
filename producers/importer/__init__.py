"""Import adapter: exports of existing one-stop systems -> contract events (`iocmon import`).

`mapping` holds the status/date -> event rules (its docstring is the mapping table), `source`
reads the national sync format's fields, `readers` streams JSON, JSON Lines and CSV exports,
`run` converts and counts, `cli` is the command. See README.md in this folder.
"""
