from iocmon.notifier.cli import main

main()
