"""atheris (libFuzzer) over the record and correction decoders: any exception is a crash.

Run by test_fuzz.py with a bounded number of runs; by hand:
``.venv/bin/python tests/faults/fuzz_decode.py -runs=100000``.
"""

from __future__ import annotations

import sys

import atheris

# Coverage feedback from our code only: instrumenting the ~200 stdlib and library modules these imports
# pull in took 60 s of start-up under load (15 s on a quiet machine); labelstream alone takes under 1 s.
with atheris.instrument_imports(include=["labelstream"]):
    from labelstream.core.decode import DecodeError, RecordDecoder, decode_correction
    from labelstream.core.schemas import Correction, Record

DECODER = RecordDecoder()


def one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    use_key = provider.ConsumeBool()
    key = provider.ConsumeBytes(provider.ConsumeIntInRange(0, 16)) if use_key else None
    value = provider.ConsumeBytes(provider.remaining_bytes())
    record = DECODER.decode(value, key)
    if not isinstance(record, (Record, DecodeError)) or isinstance(record, DecodeError) and not record.kind:
        raise AssertionError(f"decode returned {record!r}")
    correction = decode_correction(value, key)
    if not isinstance(correction, (Correction, DecodeError)) or isinstance(correction, DecodeError) and not correction.kind:
        raise AssertionError(f"decode_correction returned {correction!r}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
