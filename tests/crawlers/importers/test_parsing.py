"""Shared parsing of export files: encodings, CSV quirks, timestamps."""

from datetime import UTC, datetime, timezone

import pytest

from crawlers.importers.parsing import ExportFormatError, decode_text, parse_timestamp, read_csv


@pytest.mark.parametrize(
    "data, encoding",
    [
        ("\ufeffcafé — ok".encode("utf-8"), "utf-8"),
        ("café — ok".encode(), "utf-8"),
        ("café — ok".encode("utf-16"), "utf-16"),  # encode() writes the BOM
        ("café — ok".encode("cp1252"), "cp1252"),
    ],
)
def test_text_is_decoded_from_bom_utf8_or_cp1252(data, encoding):
    decoded = decode_text(data, "Shares.csv")
    assert (decoded.text, decoded.encoding) == ("café — ok", encoding)


def test_bytes_that_fit_no_encoding_are_a_clear_error():
    with pytest.raises(ExportFormatError, match=r"Shares.csv: neither UTF-8 nor cp1252 text \(byte 0x81 on line 1\)"):
        decode_text(b"abc\x81\x8d\xff", "Shares.csv")


def test_csv_keeps_multiline_fields_doubled_quotes_and_line_numbers():
    data = '\ufeffDate,ShareCommentary\n2024-01-01 10:00:00,"He said ""ship it""\n\nthen left."\n2024-01-02 10:00:00,short\n'.encode()
    parsed = read_csv(data, "Shares.csv", ("Date", "ShareCommentary"))
    assert [(row.line, row.values) for row in parsed.rows] == [
        (2, {"Date": "2024-01-01 10:00:00", "ShareCommentary": 'He said "ship it"\n\nthen left.'}),
        (5, {"Date": "2024-01-02 10:00:00", "ShareCommentary": "short"}),
    ]
    assert parsed.error is None and parsed.encoding == "utf-8"


def test_csv_with_broken_quoting_keeps_the_rows_before_it():
    data = b'Date,ShareCommentary\n2024-01-01 10:00:00,fine\n2024-01-02 10:00:00,"unterminated\x00 quote\n'
    parsed = read_csv(data, "Shares.csv", ("Date", "ShareCommentary"))
    assert [row.values["ShareCommentary"] for row in parsed.rows] == ["fine"]
    assert parsed.error.startswith("Shares.csv: malformed CSV from line 3:")


def test_csv_row_with_extra_fields_is_an_error_of_that_row_only():
    parsed = read_csv(b"a,b\n1,2\n1,2,3\n4,5\n", "x.csv", ("a", "b"))
    assert [row.error for row in parsed.rows] == [
        None,
        "x.csv: malformed CSV at line 3: 3 fields, the header has 2",
        None,
    ]


def test_csv_without_the_required_columns_names_what_it_found():
    with pytest.raises(ExportFormatError, match=r"posts.csv: missing column\(s\) post_id \(columns found: id, title\)"):
        read_csv(b"id,title\n1,x\n", "posts.csv", ("post_id",))
    with pytest.raises(ExportFormatError, match=r"columns found: none"):
        read_csv(b"", "posts.csv", ("post_id",))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-03-05 14:22:10", datetime(2024, 3, 5, 14, 22, 10, tzinfo=UTC)),
        ("2019-03-12T10:01:02.123Z", datetime(2019, 3, 12, 10, 1, 2, 123000, tzinfo=UTC)),
        ("Published on 2024-01-10 09:12", datetime(2024, 1, 10, 9, 12, tzinfo=UTC)),
        ("2024-01-10T11:00:00+02:00", datetime(2024, 1, 10, 9, 0, tzinfo=UTC)),
        ("", None),
    ],
)
def test_timestamps_in_export_formats(text, expected):
    assert parse_timestamp(text, "Date") == expected


def test_a_bad_timestamp_names_the_field():
    with pytest.raises(ExportFormatError, match="Shares.csv line 4: Date: not a date: 'yesterday'"):
        parse_timestamp("yesterday", "Shares.csv line 4: Date")


def test_a_field_longer_than_the_limit_stops_the_file_with_the_limit_named():
    from crawlers.importers.parsing import MAX_CSV_FIELD_CHARS

    data = ('Date,ShareCommentary\n2024-03-05,fine\n2024-03-06,"' + "x" * (MAX_CSV_FIELD_CHARS + 10) + '"\n').encode()
    parsed = read_csv(data, "Shares.csv", ("Date", "ShareCommentary"))
    assert [row.values["ShareCommentary"] for row in parsed.rows] == ["fine"]
    assert parsed.error.startswith("Shares.csv: malformed CSV from line 3") and str(MAX_CSV_FIELD_CHARS) in parsed.error
