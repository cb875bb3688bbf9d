"""The CLI's shared renderer: human units from a property's meta, and listings that keep
their key columns whole in a narrow terminal."""

from __future__ import annotations

from io import StringIO

from rich.cells import cell_len
from rich.console import Console

from roost.cli.render import Column, listing, value_text
from roost.models.meta import PropertySpec


def number(unit: str | None = None, precision: int | None = None) -> PropertySpec:
    return PropertySpec(kind="number", unit=unit, precision=precision)


def test_sizes_and_durations_read_as_a_person_reads_them() -> None:
    assert value_text(155840512, number("B", 0)) == "148.6 MB"
    assert value_text(74076.0, number("MB")) == "72.34 GB"
    assert value_text(512, number("B")) == "512 B"
    assert value_text(11_520, number("s")) == "3h 12m"
    assert value_text(90, number("s")) == "90 s"
    assert value_text(2.5, number("°C", 2)) == "2.50 °C"
    assert value_text(True, PropertySpec(kind="switch")) == "on"
    assert value_text(None, number("B")) == "–"


def render(table: object, width: int) -> list[str]:
    out = StringIO()
    Console(file=out, width=width, color_system=None).print(table)
    return out.getvalue().splitlines()


def test_a_narrow_listing_drops_minor_columns_and_folds_between_items() -> None:
    columns = [
        Column("device", key=True),
        Column("available", key=True),
        Column("model", drop=1),
        Column("values", fill=True, least=30),
    ]
    values = [f"ch{n}_duty=12.5 %" for n in range(16)]
    rows = [["i2c-bridge/pca9685-40", "online", "PCA9685 16-channel PWM driver", values]]
    lines = render(listing(columns, rows, 80), 80)
    assert all(cell_len(line) <= 80 for line in lines), lines
    assert "model" not in lines[0]  # left out: the values need the room
    assert lines[2].startswith("i2c-bridge/pca9685-40   online")
    text = "\n".join(lines)
    for item in values:
        assert item in text  # each item whole on one line
    wide = render(listing(columns, rows, 400), 400)
    assert "model" in wide[0] and len(wide) == 3  # everything on one line when it fits
