"""``certledger export``: a certificate's metadata under the GB/T 36903 names, for the national
e-licence catalogue."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from ledger.errors import InvalidInput

from .common import JsonOpt, err_console


def _schema(cert_type: str, path: Path | None) -> dict[str, Any]:
    if path is not None:
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise InvalidInput(f"no such file: {path}") from None
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"{path.name}: not JSON ({exc.msg})") from None
        if not isinstance(data, dict) or data.get("type") != cert_type:
            raise InvalidInput(f"{path.name} is not the schema of {cert_type}")
        return data
    from ledger.bootstrap import default_schemas

    schema = default_schemas().get(cert_type)
    if schema is None:
        raise InvalidInput(f"{cert_type} is not a built-in type: give its schema with --schema")
    return schema


def export_cmd(
    file: Annotated[Path, typer.Argument(help="A certificate file (full or disclosed).")],
    out: Annotated[Path | None, typer.Option(help="Write the JSON here instead of standard output.")] = None,
    issuer_name: Annotated[
        str | None, typer.Option(help="ZZBFJG, the issuing agency's name (default: its agency code).")
    ] = None,
    issuer_code: Annotated[
        str | None,
        typer.Option(help="ZZBFJGDM, the agency's unified social credit code (default: from the identifier)."),
    ] = None,
    schema: Annotated[
        Path | None, typer.Option(help="The type's schema, a JSON file (default: the built-in type's).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a certificate's metadata under the national names (GB/T 36903), disclosed fields only."""
    from ledger.document import load_document
    from ledger.gbt.identifier import parse
    from ledger.gbt.metadata import NationalMapping, export_certificate

    cert, stated = load_document(file)
    cert_hash = cert.compute_hash()
    if stated is not None and stated != cert_hash:
        raise InvalidInput(f"{file.name}: the document does not match its stated hash (tampered?)")
    mapping = NationalMapping.from_schema(_schema(cert.type, schema))
    identifier = parse(cert.identifier) if cert.identifier is not None else None
    code = issuer_code.strip().upper() if issuer_code else (identifier.issuer_code if identifier else None)
    if code is None:
        raise InvalidInput(f"{file.name} has no identifier to take the issuer code from: give --issuer-code")
    if identifier is not None and identifier.issuer_code != code:
        raise InvalidInput(f"--issuer-code {code} differs from the identifier's issuer code {identifier.issuer_code}")
    row = export_certificate(cert, mapping, issuer=issuer_name or cert.agency, issuer_code=code, identifier=identifier)
    text = orjson.dumps(row, option=orjson.OPT_INDENT_2).decode() + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    if as_json:
        sys.stdout.write(orjson.dumps({"file": str(out), "columns": list(row)}).decode() + "\n")
    else:
        err_console.print(f"wrote {out}: {', '.join(row)}", markup=False, highlight=False)
