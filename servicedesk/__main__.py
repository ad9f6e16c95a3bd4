from servicedesk.cli import main

main()
