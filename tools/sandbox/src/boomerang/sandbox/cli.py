"""`boomerang-sandbox serve` runs the sandbox; `boomerang-sandbox keygen` makes webhook keys."""

import argparse
from pathlib import Path

import uvicorn

from boomerang.sandbox.app import create_app
from boomerang.sandbox.settings import Settings
from boomerang.sandbox.signing import write_keypair


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="boomerang-sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the sandbox (settings from BOOMERANG_SANDBOX_*)")
    serve.add_argument("--host", help="overrides BOOMERANG_SANDBOX_HOST (127.0.0.1)")
    serve.add_argument("--port", type=int, help="overrides BOOMERANG_SANDBOX_PORT (8025)")
    keygen = commands.add_parser("keygen", help="write a SendGrid event webhook key pair")
    keygen.add_argument("--private-key", type=Path, required=True, help="PEM file for the sandbox")
    keygen.add_argument("--public-key", type=Path, required=True, help="base64 DER file for feedback")
    return parser


def serve(host: str | None, port: int | None) -> None:
    settings = Settings()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings.model_copy(update=overrides)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        serve(args.host, args.port)
    else:
        public_key = write_keypair(args.private_key, args.public_key)
        print(public_key)
