from darse.cli.main import run

run()
