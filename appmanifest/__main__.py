"""``python -m appmanifest --bot-id GUID --out FILE``: write the Teams app package."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from appmanifest.build import build_package, developer_is_placeholder, render_manifest
from appmanifest.schema import SchemaUnavailable, validation_errors


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m appmanifest",
        description="Write the TSM bot's Teams app package (manifest.json + icons, zipped) for upload "
        "in the Teams admin centre.",
    )
    p.add_argument("--bot-id", required=True, help="Microsoft App ID of the Azure Bot resource (a GUID)")
    p.add_argument("--out", required=True, type=Path, help="zip file to write (or an existing directory)")
    p.add_argument("--app-id", help="Teams app id (a GUID); default: the bot id")
    p.add_argument(
        "--version",
        default="1.0.0",
        help="app version, MAJOR.MINOR.PATCH (default 1.0.0); raise it for every re-upload",
    )
    p.add_argument(
        "--valid-domain",
        action="append",
        default=[],
        metavar="HOST",
        help="a domain the app may open, e.g. tsm.example.gov.uk (repeatable)",
    )
    p.add_argument("--developer-name", help="publisher shown in Teams, e.g. the council's name (max 32)")
    p.add_argument("--website-url", help="https:// URL of the support page")
    p.add_argument("--privacy-url", help="https:// URL of the privacy notice")
    p.add_argument("--terms-url", help="https:// URL of the terms of use")
    p.add_argument(
        "--check",
        action="store_true",
        help="also validate against Microsoft's JSON schema (installs it with npm if needed)",
    )
    args = p.parse_args(argv)

    developer = {
        "name": args.developer_name,
        "websiteUrl": args.website_url,
        "privacyUrl": args.privacy_url,
        "termsOfUseUrl": args.terms_url,
    }
    developer = {k: v for k, v in developer.items() if v is not None}
    kwargs = dict(
        app_id=args.app_id, version=args.version, valid_domains=args.valid_domain, developer=developer
    )
    try:
        manifest = render_manifest(args.bot_id, **kwargs)
        if args.check:
            errors = validation_errors(manifest)
            if errors:
                print("manifest does not match Microsoft's schema:", *errors, sep="\n  ", file=sys.stderr)
                return 1
        path = build_package(args.bot_id, args.out, **kwargs)
    except ValueError as exc:
        p.error(str(exc))  # exits with status 2
    except SchemaUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    if developer_is_placeholder(manifest):
        print(
            "warning: the developer name and URLs are still the template's placeholders; give "
            "--developer-name, --website-url, --privacy-url and --terms-url before uploading",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
