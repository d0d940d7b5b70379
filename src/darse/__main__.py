from darse.cli.start import run

run()
