"""pandas <-> mc2 tables: schema inference from dtypes, CSV text as mc2 reads it
(docs/format.md: NULL is an empty field, the empty string is ""), and typed DataFrames from a
result's CSV and schema."""
import datetime
import decimal
import re

import pandas as pd

from .errors import UsageError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _decimal_type(values):
    """DECIMAL(p,s) wide enough for every Decimal in values (p <= 38; up to 18 digits mc2
    keeps 64 bits, beyond that 128)."""
    scale, ints = 0, 1
    for v in values:
        t = v.as_tuple()
        if not isinstance(t.exponent, int):
            raise UsageError(f"cannot upload the decimal {v} (not finite)")
        scale = max(scale, -t.exponent)
        ints = max(ints, len(t.digits) + t.exponent)
    if ints + scale > 38:
        raise UsageError("a decimal column needs more than 38 digits: give another type in "
                         "schema= (DOUBLE or VARCHAR)")
    return f"DECIMAL({ints + scale},{scale})"


def infer_type(name, s):
    """The mc2 type of pandas Series s (see docs/python.md, "Types")."""
    dt = s.dtype
    if pd.api.types.is_bool_dtype(dt):
        return "BOOL"
    if pd.api.types.is_integer_dtype(dt):
        return "INT64"
    if pd.api.types.is_float_dtype(dt):
        return "DOUBLE"
    if pd.api.types.is_datetime64_any_dtype(dt):
        v = s.dropna()
        if len(v) and not (v.dt.normalize() == v).all():
            raise UsageError(f"column '{name}' has times of day: mc2 has DATE only; give its type "
                             "in schema= or truncate it")
        return "DATE"
    values = s.dropna().tolist()
    if not values:
        return "VARCHAR(1)"
    kinds = {type(v) for v in values}
    if kinds <= {bool}:
        return "BOOL"
    if kinds <= {int}:
        return "INT64"
    if kinds <= {float, int}:
        return "DOUBLE"
    if kinds <= {decimal.Decimal}:
        return _decimal_type(values)
    if all(isinstance(v, datetime.date) and not isinstance(v, datetime.datetime)
           for v in values):
        return "DATE"
    if kinds <= {str}:
        return f"VARCHAR({max(1, max(len(v.encode()) for v in values))})"
    raise UsageError(f"cannot infer an mc2 type for column '{name}' (Python types "
                     f"{sorted(k.__name__ for k in kinds)}): give it in schema=")


def schema_yaml(df, schema=None):
    """The mc2 schema (YAML) for DataFrame df: inferred from its dtypes, with schema (a dict
    column -> type, e.g. {"amount": "DECIMAL(15,2)"}) overriding. Every column is nullable."""
    schema = dict(schema or {})
    unknown = set(schema) - set(map(str, df.columns))
    if unknown:
        raise UsageError(f"schema names columns the data does not have: {sorted(unknown)}")
    lines = ["columns:"]
    for c in df.columns:
        name = str(c)
        if not _NAME.match(name):
            raise UsageError(f"column name '{name}' is not an mc2 column name "
                             "(letters, digits, _; not starting with a digit): rename it")
        t = schema.get(name) or infer_type(name, df[c])
        lines.append(f"  - {{name: {name}, type: '{t}'}}")
    return "\n".join(lines) + "\n"


def _quote(v):
    if v == "" or any(ch in v for ch in ',"\r\n'):
        return '"' + v.replace('"', '""') + '"'
    return v


def _cell(v, t):
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
        return ""
    if t.startswith("BOOL"):
        return "true" if bool(v) else "false"
    if t.startswith("DATE"):
        return pd.Timestamp(v).strftime("%Y-%m-%d")
    if t.startswith("DOUBLE"):
        return repr(float(v))
    if t.startswith("INT64"):
        return str(int(v))
    if t.startswith("DECIMAL"):
        return str(v)
    return _quote(str(v))


def to_csv(df, yaml_text):
    """df as CSV text in mc2's conventions, for the types in yaml_text."""
    types = re.findall(r"type: '([^']*)'", yaml_text)
    cols = [df[c].tolist() for c in df.columns]
    out = [",".join(str(c) for c in df.columns)]
    for i in range(len(df)):
        out.append(",".join(_cell(cols[k][i], types[k].upper()) for k in range(len(cols))))
    return ("\n".join(out) + "\n").encode()


def parse_csv(text):
    """Records of mc2's CSV: a list of rows, each a list of str or None (an unquoted empty
    field is NULL, "" the empty string)."""
    rows, row, field, quoted, i, n = [], [], [], False, 0, len(text)
    had_quote = False
    while i < n:
        ch = text[i]
        if quoted:
            if ch == '"':
                if i + 1 < n and text[i + 1] == '"':
                    field.append('"')
                    i += 1
                else:
                    quoted = False
            else:
                field.append(ch)
        elif ch == '"':
            quoted = had_quote = True
        elif ch == ",":
            row.append("".join(field) if field or had_quote else None)
            field, had_quote = [], False
        elif ch == "\n" or ch == "\r":
            if ch == "\r" and i + 1 < n and text[i + 1] == "\n":
                i += 1
            row.append("".join(field) if field or had_quote else None)
            rows.append(row)
            row, field, had_quote = [], [], False
        else:
            field.append(ch)
        i += 1
    if field or had_quote or row:
        row.append("".join(field) if field or had_quote else None)
        rows.append(row)
    return rows


def result_types(yaml_text):
    """The column types, in order, of a schema mc2 wrote (mc2_schema_to_yaml)."""
    return [t.strip().strip("'\"") for t in re.findall(r"^\s+type:\s*(.+)$", yaml_text, re.M)]


def _convert(values, t):
    t = t.upper()
    if t.startswith("INT64"):
        return pd.array([None if v is None else int(v) for v in values], dtype="Int64")
    if t.startswith("DOUBLE"):
        return pd.array([None if v is None else float(v) for v in values], dtype="Float64")
    if t.startswith("BOOL"):
        return pd.array([None if v is None else v.lower() in ("true", "1", "t")
                         for v in values], dtype="boolean")
    if t.startswith("DATE"):
        return pd.to_datetime(pd.Series(values, dtype="object"), format="%Y-%m-%d")
    if t.startswith("DECIMAL"):
        return pd.Series([None if v is None else decimal.Decimal(v) for v in values],
                         dtype="object")
    return pd.Series(values, dtype="object")


def from_result(csv_bytes, yaml_text):
    """A DataFrame from a result's CSV and schema: INT64 -> Int64, DOUBLE -> Float64, BOOL ->
    boolean, DATE -> datetime64, DECIMAL -> decimal.Decimal, VARCHAR -> str; NULL -> <NA>/None."""
    rows = parse_csv(csv_bytes.decode())
    if not rows:
        return pd.DataFrame()
    header, body = rows[0], rows[1:]
    types = result_types(yaml_text) if yaml_text else ["VARCHAR"] * len(header)
    cols = {}
    for k in range(len(header)):
        v = _convert([r[k] for r in body], types[k] if k < len(types) else "VARCHAR")
        cols[k] = v.reset_index(drop=True) if isinstance(v, pd.Series) else v
    df = pd.DataFrame(cols)
    df.columns = header  # as the result names them (two columns may share a name)
    return df
