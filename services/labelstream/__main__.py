from labelstream.cli.main import main

main()
