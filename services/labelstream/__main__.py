from labelstream.cli.main import app

app()
