from raybot.cli import main

main()
