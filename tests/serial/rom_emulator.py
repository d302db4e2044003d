"""An emulated ESP32 ROM serial bootloader on a pseudo-terminal, for flashing tests.

`RomEmulator` opens a pty pair and serves the ROM's SLIP protocol on the master side from a
thread; real esptool talks to `emulator.port` (the slave tty) exactly as to a board in
download mode, without the flasher stub. It implements what esptool 5 sends to an ESP32
ROM: SYNC (eight replies), READ_REG / WRITE_REG (chip magic, eFuse MAC words, the SPI
peripheral's user-command registers so JEDEC ID reads work), SPI_SET_PARAMS, SPI_ATTACH,
CHANGE_BAUDRATE, FLASH_BEGIN/DATA/END, FLASH_DEFL_BEGIN/DATA/END (zlib into the flash) and
SPI_FLASH_MD5 (32 ASCII hex digits, as the ESP32 ROM answers). Unknown commands get the
ROM's "invalid message" status. Responses carry the ESP32 ROM's four status bytes.

The board: `chip` is "ESP32" (the default, the ESP32-CAM's) or "ESP32-S3", each with its own
ROM's view of the protocol as esptool 5 sees it: the ESP32 ROM does not know
GET_SECURITY_INFO (esptool then reads the chip magic register) and ends replies with four
status bytes; the ESP32-S3 ROM answers GET_SECURITY_INFO with its image chip id (9) and ends
replies with two. Each chip has its own eFuse MAC words and SPI peripheral registers.
`flash_size` (1 to 16 MB) is the flash chip's size, reported in its JEDEC ID (a Winbond
W25Q part: manufacturer 0xEF, memory type 0x40, capacity code log2(size)); writes beyond it
fail as on a real board.

A pty has no DTR/RTS lines (the ioctls fail with ENOTTY, which esptool tolerates with a
warning), so the emulator is always "in download mode"; tests may pass `before="no-reset"`.
Real boards use esptool's default reset sequence.

Failure modes: ``silent`` (never answers), ``wrong_boot`` (answers any traffic with the
boot banner of a board that booted from flash, boot:0x13, and never syncs), ``corrupt``
(flips one byte of every FLASH_DATA block, so the MD5 check fails).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import struct
import threading
import time
import tty
import zlib
from dataclasses import dataclass
from typing import Literal

from tests.waiting import scaled

Mode = Literal["ok", "silent", "wrong_boot", "corrupt"]
ChipName = Literal["ESP32", "ESP32-S3"]

MB = 1024 * 1024
FLASH_SIZE = 4 * MB
SECTOR = 0x1000
CHIP_MAGIC_REG = 0x40001000
ESP32_MAGIC = 0x00F01D83
EFUSE_BASE = 0x3FF5A000
SPI_BASE = 0x3FF42000
SPI_CMD_USR = 1 << 18
UART_CLKDIV_REG = 0x3FF40014

SYNC, WRITE_REG, READ_REG = 0x08, 0x09, 0x0A
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
SPI_SET_PARAMS, SPI_ATTACH, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0F
DEFL_BEGIN, DEFL_DATA, DEFL_END = 0x10, 0x11, 0x12
SPI_FLASH_MD5 = 0x13
GET_SECURITY_INFO = 0x14
INVALID_MESSAGE = 0x05


@dataclass(frozen=True)
class Chip:
    """What tells one ROM from another on the wire (esptool's targets/*.py name the same
    addresses): `security_info_id` is None for a ROM without GET_SECURITY_INFO."""

    name: str
    security_info_id: int | None
    magic: int  # the value at CHIP_MAGIC_REG
    status_bytes: int
    mac_efuse: int  # the MAC's low word; the word after it holds the top two bytes
    spi_base: int
    spi_usr2: int  # command bits 0..7
    spi_w0: int  # the first data word
    uart_clkdiv: int


CHIPS: dict[str, Chip] = {
    "ESP32": Chip(
        "ESP32", None, ESP32_MAGIC, 4, EFUSE_BASE + 4, SPI_BASE, 0x24, 0x80, UART_CLKDIV_REG
    ),
    "ESP32-S3": Chip("ESP32-S3", 9, 0x9, 2, 0x60007044, 0x60002000, 0x20, 0x58, 0x60000014),
}


def jedec_id(flash_size: int) -> int:
    """A Winbond W25Q's JEDEC ID as esptool reads it: capacity code, 0x40, 0xEF."""
    code = flash_size.bit_length() - 1
    if flash_size != 1 << code or not MB <= flash_size <= 16 * MB:
        raise ValueError(f"no flash chip of {flash_size} bytes")
    return code << 16 | 0x40 << 8 | 0xEF


BOOT_BANNER = (
    b"ets Jun  8 2016 00:22:57\r\n\r\n"
    b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
    b"configsip: 0, SPIWP:0xee\r\nclk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00\r\n"
    b"mode:DIO, clock div:1\r\nload:0x3fff0030,len:1184\r\nentry 0x400805f0\r\n"
)


def slip_encode(packet: bytes) -> bytes:
    """Frame one packet: 0xC0, escaped body (0xDB 0xDC for 0xC0, 0xDB 0xDD for 0xDB), 0xC0."""
    body = packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


class SlipDecoder:
    """Collects SLIP frames from a byte stream; bytes outside frames are dropped."""

    def __init__(self) -> None:
        self._packet: bytearray | None = None
        self._escape = False

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for b in data:
            if self._packet is None:
                if b == 0xC0:
                    self._packet = bytearray()
            elif self._escape:
                self._escape = False
                self._packet.append({0xDC: 0xC0, 0xDD: 0xDB}.get(b, b))
            elif b == 0xDB:
                self._escape = True
            elif b == 0xC0:
                if self._packet:  # an empty frame is a delimiter: keep waiting
                    out.append(bytes(self._packet))
                    self._packet = None
            else:
                self._packet.append(b)
        return out


class RomEmulator:
    """An ESP32 (or `chip`) in download mode behind `port`; `flash` is its flash (erased =
    0xFF) of `flash_size` bytes."""

    def __init__(
        self,
        mode: Mode = "ok",
        mac: bytes = bytes.fromhex("246f28a1b2c3"),
        block_delay: float = 0.0,
        *,
        chip: ChipName = "ESP32",
        flash_size: int = FLASH_SIZE,
    ) -> None:
        self.mode: Mode = mode
        self.mac = mac
        self.block_delay = block_delay
        self.chip = CHIPS[chip]
        self.jedec_id = jedec_id(flash_size)
        self.flash_size = flash_size
        self.flash = bytearray(b"\xff" * flash_size)
        self.commands: list[int] = []  # every request's opcode, in order
        self.reads: list[int] = []  # every READ_REG address
        self.baud_changes: list[int] = []
        self._regs: dict[int, int] = {
            CHIP_MAGIC_REG: self.chip.magic,
            self.chip.mac_efuse: int.from_bytes(mac[2:6], "big"),
            self.chip.mac_efuse + 4: int.from_bytes(mac[0:2], "big"),
            self.chip.uart_clkdiv: 347,  # 40 MHz crystal at 115200 Bd
        }
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="rom-emulator", daemon=True)
        self._write: tuple[int, int, int] | None = None  # offset, block size, flash end
        self._inflate: tuple[zlib._Decompress, int, int] | None = None  # decompressor, pos, end
        self._last_banner = 0.0

    def __enter__(self) -> RomEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=scaled(5))
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- serving --------------------------------------------------------------------------

    def _serve(self) -> None:
        decoder = SlipDecoder()
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 65536)
            except OSError:
                # No slave side open at the moment (EIO until the flasher opens the port):
                # poll again shortly, as select() reports the master readable meanwhile.
                time.sleep(0.01)
                continue
            if self.mode == "silent":
                continue
            if self.mode == "wrong_boot":
                # A chip in the wrong boot mode prints its banner again on every reset the
                # flasher attempts; at most once per 50 ms, like a real reboot, not per byte.
                if time.monotonic() - self._last_banner > 0.05:
                    self._last_banner = time.monotonic()
                    self._send_raw(BOOT_BANNER)
                continue
            for packet in decoder.feed(data):
                self._handle(packet)

    def _send_raw(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(self._master, data)

    def _reply(self, op: int, value: int = 0, data: bytes = b"", status: int = 0) -> None:
        error = INVALID_MESSAGE if status else 0
        body = data + bytes([status, error, 0, 0])[: self.chip.status_bytes]
        self._send_raw(slip_encode(struct.pack("<BBHI", 1, op, len(body), value) + body))

    def _handle(self, packet: bytes) -> None:
        if len(packet) < 8 or packet[0] != 0:
            return
        _, op, size, _checksum = struct.unpack("<BBHI", packet[:8])
        data = packet[8 : 8 + size]
        self.commands.append(op)
        if op == SYNC:
            for _ in range(8):
                self._reply(op, value=0x20120707)
        elif op == READ_REG:
            (addr,) = struct.unpack("<I", data[:4])
            self.reads.append(addr)
            self._reply(op, value=self._regs.get(addr, 0))
        elif op == WRITE_REG:
            addr, value, mask, _delay = struct.unpack("<IIII", data[:16])
            self._write_reg(addr, value, mask)
            self._reply(op)
        elif op in (SPI_SET_PARAMS, SPI_ATTACH, FLASH_END, DEFL_END):
            self._reply(op)
        elif op == CHANGE_BAUDRATE:
            self.baud_changes.append(struct.unpack("<I", data[:4])[0])
            self._reply(op)
        elif op in (FLASH_BEGIN, DEFL_BEGIN):
            self._begin(op, data)
        elif op == FLASH_DATA:
            self._flash_data(data)
        elif op == DEFL_DATA:
            self._defl_data(data)
        elif op == GET_SECURITY_INFO and self.chip.security_info_id is not None:
            # flags, flash_crypt_cnt, 7 key purposes, chip id, API version: nothing secured
            info = struct.pack("<IB7BII", 0, 0, *bytes(7), self.chip.security_info_id, 0)
            self._reply(op, data=info)
        elif op == SPI_FLASH_MD5:
            addr, length = struct.unpack("<II", data[:8])
            digest = hashlib.md5(self.flash[addr : addr + length]).hexdigest().encode()
            self._reply(op, data=digest)
        else:
            self._reply(op, status=1)

    def _write_reg(self, addr: int, value: int, mask: int) -> None:
        old = self._regs.get(addr, 0)
        self._regs[addr] = (old & ~mask) | (value & mask)
        base = self.chip.spi_base
        if addr == base and value & SPI_CMD_USR:  # run the SPI user command at once
            command = self._regs.get(base + self.chip.spi_usr2, 0) & 0xFF
            self._regs[base + self.chip.spi_w0] = self.jedec_id if command == 0x9F else 0
            self._regs[base] = 0

    def _begin(self, op: int, data: bytes) -> None:
        size, _blocks, block_size, offset = struct.unpack("<IIII", data[:16])
        end = offset + size
        if end > self.flash_size:
            self._reply(op, status=1)
            return
        erase_end = min(self.flash_size, -(-end // SECTOR) * SECTOR)
        self.flash[offset:erase_end] = b"\xff" * (erase_end - offset)
        if op == FLASH_BEGIN:
            self._write = (offset, block_size, end)
        else:
            self._inflate = (zlib.decompressobj(), offset, end)
        self._reply(op)

    def _flash_data(self, data: bytes) -> None:
        length, seq, _, _ = struct.unpack("<IIII", data[:16])
        block = bytearray(data[16 : 16 + length])
        if self._write is None or len(block) != length:
            self._reply(FLASH_DATA, status=1)
            return
        offset, block_size, _end = self._write
        start = offset + seq * block_size
        block = block[: max(0, min(len(block), self.flash_size - start))]
        if self.mode == "corrupt" and block:
            block[len(block) // 2] ^= 0x5A
        self.flash[start : start + len(block)] = block
        if self.block_delay:
            time.sleep(self.block_delay)  # models the chip's flash write time (tests cancel in it)
        self._reply(FLASH_DATA)

    def _defl_data(self, data: bytes) -> None:
        length, _seq, _, _ = struct.unpack("<IIII", data[:16])
        if self._inflate is None:
            self._reply(DEFL_DATA, status=1)
            return
        inflater, pos, end = self._inflate
        out = bytearray(inflater.decompress(data[16 : 16 + length]))
        if self.mode == "corrupt" and out:
            out[len(out) // 2] ^= 0x5A
        out = out[: max(0, end - pos)]
        self.flash[pos : pos + len(out)] = out
        self._inflate = (inflater, pos + len(out), end)
        if self.block_delay:
            time.sleep(self.block_delay)  # models the chip's flash write time (tests cancel in it)
        self._reply(DEFL_DATA)
