from iocmon.cli import main

main()
