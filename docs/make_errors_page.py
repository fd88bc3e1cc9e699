"""Write docs/errors.md: the message a user sees for each kind of invalid scenario file.

Every example is real: the script writes the broken file into a temporary
catalog, loads it with the harness's own loader and prints what the loader
raised. Run it after changing a message in harness/catalog.py or
harness/dns.py; tests/test_errors_page.py fails while the page is stale.

    .venv/bin/python docs/make_errors_page.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.catalog import load_catalog

PAGE = Path(__file__).with_name("errors.md")

BASE = '''title = "Self-signed certificate on the MX"
summary = "The MX presents a leaf that it signed itself."
direction = "receiving"

[broken]
certificate = { issuer = "self" }
expect = { class = "certificate-not-trusted", reason = "self-signed", verify_code = 18 }

[fixed]
certificate = { issuer = "public" }
expect = { class = "delivered" }

[lesson]
symptoms = "What the admin sees."
cause = "Why it happens."
fix = "How to fix it."
'''


@dataclass(frozen=True)
class Example:
    """One kind of error: a heading, what to do about it, and the lines that cause it."""

    heading: str
    advice: str
    old: str  # a line of BASE
    new: str  # what replaces it; shown on the page


EXAMPLES = [
    Example("Not valid TOML", "Fix the syntax at the line and column named; quote every string.",
            'title = "Self-signed certificate on the MX"', "title = Self-signed certificate"),
    Example("Unknown key", "Check the spelling; the message lists the keys accepted at that place.",
            'certificate = { issuer = "self" }', 'certifcate = { issuer = "self" }'),
    Example("Missing key", "Add the key; title, summary, broken, fixed and lesson are required.",
            'summary = "The MX presents a leaf that it signed itself."', ""),
    Example("Variant without an expected outcome", "Give each variant an expect table, at least its class.",
            'expect = { class = "delivered" }', ""),
    Example("Value of the wrong type", "Write the type named: a string, a table, a list, true or false.",
            'title = "Self-signed certificate on the MX"', "title = 42"),
    Example("Value not in the accepted set", "Use one of the values listed.",
            'certificate = { issuer = "self" }', 'certificate = { issuer = "selff" }'),
    Example("Number out of range", "Use a whole number inside the range given.",
            "verify_code = 18", "verify_code = 1018"),
    Example("Certificate dates in the wrong order", "not_after_days must be later than not_before_days.",
            'certificate = { issuer = "self" }',
            'certificate = { issuer = "self", not_before_days = 10, not_after_days = 5 }'),
    Example("Invalid certificate host name", "Use DNS names; {mx} and {domain} are filled in per host.",
            'certificate = { issuer = "self" }', 'certificate = { issuer = "self", names = ["mail server"] }'),
    Example("Common name too long", "X.509 allows 1 to 64 characters in a common name.",
            'certificate = { issuer = "self" }', 'certificate = { issuer = "self", common_name = "' + "m" * 70 + '" }'),
    Example("A certificate of true", "Write a table, or false for a host without a certificate.",
            'certificate = { issuer = "self" }', "certificate = true"),
    Example("TLS versions in the wrong order", "min_version must not be above max_version.",
            'certificate = { issuer = "self" }',
            'certificate = { issuer = "self" }\ntls = { min_version = "TLSv1.3", max_version = "TLSv1.2" }'),
    Example("Cipher string that OpenSSL does not know", "Use a cipher string that 'openssl ciphers -v' accepts.",
            'certificate = { issuer = "self" }', 'certificate = { issuer = "self" }\ntls = { ciphers = "RC4-MD5" }'),
    Example("Unknown TLS alert name", "Write the alert as the client reports it, in lower case with underscores.",
            "verify_code = 18", 'alert = "unknown-ca"'),
    Example("Invalid DNS record", "Write the value in zone-file form for its type.",
            'certificate = { issuer = "self" }',
            'certificate = { issuer = "self" }\ndns = { records = [ { name = "{domain}", type = "MX", value = "{mx}" } ] }'),
    Example("Unsupported DNS record type", "Use one of the record types listed.",
            'certificate = { issuer = "self" }',
            'certificate = { issuer = "self" }\ndns = { records = [ { name = "{domain}", type = "SRV", value = "0 0 25 {mx}" } ] }'),
    Example("Unknown client profile", "Use strict or opportunistic.",
            'certificate = { issuer = "self" }', 'certificate = { issuer = "self" }\nclient = { profile = "lenient" }'),
    Example("Unknown capability in requires", "List only the capabilities named.",
            'direction = "receiving"', 'direction = "receiving"\nrequires = ["sslv3"]'),
]


def _message(folder: Path, text: str | bytes, name: str = "example.toml") -> str:
    """Load ``text`` as the only file of a catalog in ``folder`` and return its error message."""
    path = folder / "scenarios" / "certificate" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    catalog = load_catalog(folder / "scenarios")
    path.unlink()
    if len(catalog.errors) != 1:
        raise SystemExit(f"expected one error for {name}, the loader reported {catalog.errors}")
    return str(catalog.errors[0]).replace(str(folder) + "/", "")


def _section(heading: str, advice: str, snippet: str, message: str, language: str = "toml") -> str:
    return f"## {heading}\n\n{advice}\n\n```{language}\n{snippet}\n```\n\n```\n{message}\n```\n"


def _extra_sections(folder: Path) -> list[str]:
    """The two errors that are not about one line: the file's encoding and a slug used twice."""
    encoding = _message(folder, BASE.replace("MX", "MX caf\xe9").encode("latin-1"))
    first = folder / "scenarios" / "certificate" / "self-signed.toml"
    first.parent.mkdir(parents=True, exist_ok=True)
    first.write_text(BASE)
    duplicate = _message(folder, BASE, name="../protocol/self-signed.toml")
    first.unlink()
    return [
        _section("Not UTF-8 text", "Save the file as UTF-8.",
                 'title = "Self-signed certificate on the MX caf\\xe9"  # saved as Latin-1', encoding),
        _section("Slug used twice", "File names are slugs and must be unique across all folders.",
                 "scenarios/certificate/self-signed.toml\nscenarios/protocol/self-signed.toml", duplicate,
                 language="text"),
    ]


def render() -> str:
    """Return the page, with every message produced by the loader at this moment."""
    parts = [HEADER]
    with tempfile.TemporaryDirectory(prefix="smtp-harness-errors-") as name:
        folder = Path(name)
        for example in EXAMPLES:
            if example.old not in BASE:
                raise SystemExit(f"example {example.heading!r}: {example.old!r} is not a line of BASE")
            message = _message(folder, BASE.replace(example.old, example.new, 1))
            snippet = example.new or f"# removed: {example.old}"
            parts.append(_section(example.heading, example.advice, snippet, message))
        parts += _extra_sections(folder)
    return "\n".join(parts)


HEADER = """# Errors in scenario files

Each section below shows one kind of mistake in a scenario file and the
message the harness prints for it. The messages are real: the script
`docs/make_errors_page.py` writes each broken file into a temporary catalog,
loads it with the harness's loader and copies what it reported, and a test
fails when this page no longer matches.

Every message names the file, the dotted key (`broken.certificate.issuer`)
where one applies, the bad value and what would be accepted. The catalog
still loads every other file:

- `smtp-harness list` and `smtp-harness run` print each bad file on stderr as
  `smtp-harness: skipped invalid scenario file: MESSAGE`, show or run the
  rest, and exit with status 2.
- `smtp-harness explain SLUG` and `smtp-harness serve SLUG` on a bad file
  print `smtp-harness: error: MESSAGE` and exit with status 2.
- Under pytest, a bad file in `scenarios/` is one failing test,
  `scenarios/GROUP/SLUG.toml::invalid`, whose report is the message.

Each example starts from this valid file, `scenarios/certificate/example.toml`,
and changes the lines shown:

```toml
""" + BASE + """```
"""


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(description=f"Write {PAGE.name} from real loads of bad scenario files.").parse_args(argv)
    PAGE.write_text(render())
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
