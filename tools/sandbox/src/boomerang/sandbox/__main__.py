from boomerang.sandbox.cli import main

main()
