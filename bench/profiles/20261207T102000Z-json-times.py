"""What the engine spends parsing a JSON block's times.

Epoch seconds as a JSON number (the worker's blocks until 2026-12-07), as text (`sinks/rows.py`
`ms_text`, read alike by ClickHouse 25.8 and 26.9) and as integer milliseconds with
`input_format_read_datetime_number_as_raw_value` (26.9 only): 200,000 rows of two
DateTime64(3) columns and a string into a Null table, in process; CPU per row. Run it with this
interpreter (chdb 4.4, ClickHouse 26.9) or with another chdb.

    python bench/profiles/20261207T102000Z-json-times.py float text int

2026-12-07 10:19 UTC, 2-core Intel Xeon @ 2.80GHz, three rounds:
    26.9: float 1.415, 1.294, 1.244 us/row; text 1.037, 0.774, 0.736; int 1.284, 0.874, 0.762
    25.8 (chdb 3.7.2): text 0.955, 1.042, 1.073 (a number with a fraction is refused there)
"""

from __future__ import annotations

import sys
import tempfile
import time

import orjson
from chdb import session

N = 200_000
BASE_MS = 1_765_000_000_000
SETTINGS = {"float": "", "text": "",
            "int": " SETTINGS input_format_read_datetime_number_as_raw_value = 1"}


def block(kind: str) -> str:
    """N rows whose two times are written as `kind`."""
    out = []
    for i in range(N):
        ms = BASE_MS + i * 37
        value: object = {"float": ms / 1000, "text": f"{ms // 1000}.{ms % 1000:03d}",
                         "int": ms}[kind]
        out.append({"a": value, "b": value, "c": "x" * 20})
    return orjson.dumps(out).decode()


def main() -> None:
    s = session.Session(tempfile.mkdtemp())
    s.query("CREATE TABLE default.t (a DateTime64(3, 'UTC'), b DateTime64(3, 'UTC'), "
            "c String) ENGINE = Null")
    kinds = sys.argv[1:] or list(SETTINGS)
    bodies = {k: block(k) for k in kinds}
    for _ in range(3):
        for k in kinds:
            start = time.process_time()
            for _ in range(3):
                s.query(f"INSERT INTO default.t{SETTINGS[k]} FORMAT JSONEachRow {bodies[k]}")
            print(k, round((time.process_time() - start) / 3 / N * 1e6, 3), "us/row")


if __name__ == "__main__":
    main()
