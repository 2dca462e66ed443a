"""Decoder and encoder of the Python package: protocol.md sections 3, 4, 6, 7.2, 8."""
import random

import pytest

import zmesh
from zmesh import codec, errors
from zmesh.codec import Info

ME, SESSION = 0x5EED5EED5EED5EED, 0x0BADC0FFEE0DDF00


def hexbytes(s):
    return bytes.fromhex("".join(l.split(":", 1)[1] for l in s.strip().splitlines()))


# protocol.md 6.2 and 6.4, byte for byte
HELLO_62 = hexbytes("""
0000: 14 00 00 00 00 00 00 00 00 00 0a 00 10 00 07 00
0010: 08 00 0c 00 0a 00 00 00 00 00 00 01 18 00 00 00
0020: e8 03 00 00 10 00 24 00 14 00 1c 00 04 00 08 00
0030: 0c 00 10 00 10 00 00 00 5c 00 00 00 34 00 00 00
0040: 2c 00 00 00 14 00 00 00 ed 5e ed 5e ed 5e ed 5e
0050: 00 df 0d ee ff c0 ad 0b 01 00 00 00 04 00 00 00
0060: 06 00 00 00 71 75 6f 74 65 73 00 00 00 00 00 00
0070: 01 00 00 00 04 00 00 00 14 00 00 00 74 63 70 3a
0080: 2f 2f 31 32 37 2e 30 2e 30 2e 31 3a 36 30 30 31
0090: 00 00 00 00 07 00 00 00 70 72 69 63 69 6e 67 00
""")
HELLO_HDR_62 = hexbytes("""
0000: 1c 00 00 00 5a 4d 48 31 00 00 00 00 10 00 24 00
0010: 23 00 22 00 14 00 00 00 0c 00 04 00 10 00 00 00
0020: 00 df 0d ee ff c0 ad 0b ed 5e ed 5e ed 5e ed 5e
0030: 01 00 00 00 00 00 00 00 00 00 00 00 00 00 01 01
""")
ERROR_64 = hexbytes("""
0000: 0c 00 00 00 08 00 0c 00 06 00 08 00 08 00 00 00
0010: 00 00 04 00 04 00 00 00 19 00 00 00 6e 6f 20 68
0020: 61 6e 64 6c 65 72 20 66 6f 72 20 27 47 65 74 51
0030: 75 6f 74 65 27 00 00 00
""")
PING_64 = hexbytes("""
0000: 0c 00 00 00 08 00 14 00 04 00 0c 00 08 00 00 00
0010: ef cd ab 89 67 45 23 01 40 4b 4c 00 00 00 00 00
""")
REQ_61 = hexbytes("""
0000: 1c 00 00 00 5a 4d 48 31 14 00 3c 00 3b 00 3a 00
0010: 2c 00 28 00 1c 00 14 00 0c 00 04 00 14 00 00 00
0020: f4 69 e5 cf 8b 01 00 00 00 40 1e 18 24 0a 06 00
0030: 00 df 0d ee ff c0 ad 0b ed 5e ed 5e ed 5e ed 5e
0040: 00 00 00 00 14 00 00 00 01 00 00 00 00 00 00 00
0050: 00 00 00 00 00 00 04 01 08 00 00 00 47 65 74 51
0060: 75 6f 74 65 00 00 00 00
""")


def test_rule1_frame_counts_are_checked():
    assert codec.check_sizes("dealer", [b"h"]) == "missing_frames"
    assert codec.check_sizes("dealer", [b"h", b"p", b"x"]) == "extra_frames"
    assert codec.check_sizes("router", [b"i", b"h"]) == "missing_frames"
    assert codec.check_sizes("sub", [b"t", b"h", b"p", b""]) == "extra_frames"
    assert codec.check_sizes("router", [b"", b"h", b"p"]) == "empty_identity"
    assert codec.check_sizes("router", [b"i", b"h", b""]) is None  # empty payload is fine


def test_rule2_header_needs_the_identifier():
    h = codec.encode_header(codec.REQUEST, ME, SESSION, 1, b"T")
    assert h[4:8] == b"ZMH1"
    assert codec.decode_header(h)[1] is None
    assert codec.decode_header(h[:4] + b"XXXX" + h[8:])[1] == "bad_identifier"
    assert codec.decode_header(b"\x00" * 6)[1] == "bad_identifier"


def test_rule3_control_payloads_have_no_identifier_and_spec_bytes_decode():
    info = Info(ME, SESSION, "pricing", ["tcp://127.0.0.1:6001"], [], ["quotes"])
    ours = codec.encode_hello(info, 1000)
    assert ours[4:8] != b"ZMH1"
    assert codec.verify(ours, codec.HELLO_S)
    # the spec's bytes (section 6) read back as the values they stand for
    hdr, why = codec.decode_header(HELLO_HDR_62)
    assert why is None and hdr.kind == codec.HELLO and hdr.correlation_id == 1
    g, why = codec.decode_hello(HELLO_62, hdr)
    assert why is None and g.info == info and g.interval_ms == 1000 and g.min_version == 1
    assert codec.decode_code_text(ERROR_64, False)[0] == (4, "no handler for 'GetQuote'")
    assert codec.decode_ping(PING_64)[0] == (0x0123456789ABCDEF, 5_000_000)
    r, why = codec.decode_header(REQ_61)
    assert why is None and (r.kind, r.type, r.deadline_unix_ms) == (4, b"GetQuote", 1700000000500)
    # min_protocol_version 1 is left out (absent reads as 1)
    assert codec.encode_hello(info, 1000, 1, 1) == codec.encode_hello(info, 1000)
    # our own encodings (laid out differently from the C++ builder's: section 1 allows it)
    # carry the same values
    assert codec.decode_ping(codec.encode_ping(0x0123456789ABCDEF, 5_000_000))[0] == \
        (0x0123456789ABCDEF, 5_000_000)
    assert codec.decode_code_text(codec.encode_error(4, "no handler for 'GetQuote'"), False)[0] \
        == (4, "no handler for 'GetQuote'")


def test_rule4_random_and_mutated_frames_never_raise():
    rng = random.Random(16)
    info = Info(ME, SESSION, "pricing", ["tcp://127.0.0.1:6001"], ["tcp://x:1"], ["quotes"])
    seeds = [REQ_61, HELLO_HDR_62, codec.encode_header(codec.PUBLISH, ME, SESSION, 0, b"P",
                                                        sequence=3)]
    payloads = [HELLO_62, ERROR_64, PING_64, codec.encode_welcome(info, 500),
                codec.encode_register(info, 10), codec.encode_lookup("a", "b", 3, 4)]
    decoders = [lambda b: codec.decode_hello(b, codec.decode_header(HELLO_HDR_62)[0]),
                codec.decode_welcome, lambda b: codec.decode_code_text(b, True),
                codec.decode_ping, codec.decode_register_ack, codec.decode_peer_list,
                codec.decode_event]
    refused = 0
    for i in range(6000):
        base = bytearray(rng.choice(seeds + payloads))
        if i % 3 == 0:
            base = bytearray(rng.getrandbits(8) for _ in range(rng.randrange(0, 120)))
        else:
            for _ in range(rng.randrange(1, 6)):
                if base:
                    base[rng.randrange(len(base))] = rng.getrandbits(8)
            if rng.random() < 0.2:
                base = base[: rng.randrange(len(base) + 1)]
        b = bytes(base)
        h, why = codec.decode_header(b)
        refused += why is not None
        for d in decoders:
            v, why = d(b)
            assert (v is None) != (why is None)
    assert refused > 3000


def test_rule5_header_rules_of_7_2():
    def why(kind, **kw):
        a = dict(corr=1, type_=b"", sequence=0, version=1)
        a.update(kw)
        sid = a.pop("sender", ME)
        ses = a.pop("session", SESSION)
        return codec.decode_header(codec.encode_header(kind, sid, ses, a["corr"], a["type_"],
                                                       0, a["sequence"], 0, a["version"]))[1]
    assert why(codec.REQUEST, type_=b"T", version=2) == "unsupported_version"
    assert why(codec.REQUEST, type_=b"T", version=0) == "unsupported_version"
    assert why(codec.HELLO, version=2) is None  # answered with Reject, not dropped
    assert why(14, type_=b"T") == "unknown_kind"
    assert why(0) == "unknown_kind"
    assert why(codec.REQUEST, type_=b"x" * 129) == "type_too_long"
    assert why(codec.REQUEST, type_=b"x" * 128) is None
    assert why(codec.MESSAGE, corr=0) == "empty_type"
    assert why(codec.REQUEST, type_=b"T", sender=0) == "missing_sender"
    assert why(codec.REQUEST, type_=b"T", corr=0) == "missing_correlation_id"
    assert why(codec.MESSAGE, type_=b"T", corr=0) is None
    assert why(codec.HELLO, session=0) == "missing_session"
    assert why(codec.PUBLISH, type_=b"T", corr=0, sequence=0) == "missing_sequence"
    assert why(codec.PUBLISH, type_=b"T", corr=0, sequence=1, session=0) == "missing_session"


def test_rule6_size_limits_come_first(peers):
    big = b"\x00" * 1025
    assert codec.check_sizes("dealer", [big, b""]) == "header_too_large"
    assert codec.check_sizes("dealer", [b"h", b"\x00" * ((16 << 20) + 1)]) == "payload_too_large"
    assert codec.check_sizes("sub", [b"t" * 257, b"h", b""]) == "topic_too_large"
    assert codec.check_sizes("router", [b"i" * 256, b"h", b""]) == "identity_too_large"
    p = peers.make("sizes")
    with pytest.raises(zmesh.TooLarge):
        p.request(p.endpoint, "T", b"\x00" * ((16 << 20) + 1))
    with pytest.raises(zmesh.TooLarge):
        p.publish("t", "T", b"\x00" * ((16 << 20) + 1))


def test_rule40_unknown_error_codes_are_kept_as_remote_error():
    assert errors.errc_of_error_code(99) == errors.Errc.remote_error
    assert codec.decode_code_text(codec.encode_error(99, "newer"), False)[0] == (99, "newer")
    assert codec.decode_code_text(codec.encode_error(0, "x"), False)[1] == "bad_value"
    assert errors.errc_of_error_code(4) == errors.Errc.no_handler
    assert errors.errc_of_reject_code(11) == errors.Errc.rejected


def test_rule31_marker_topic_format():
    assert codec.marker_topic(0x5EED5EED5EED5EED, 1) == b"\x00zmesh.sync.5eed5eed5eed5eed.1"
    assert len(codec.marker_topic(0x5EED5EED5EED5EED, 1)) == 30


def test_the_direct_header_encoder_matches_the_builder_and_the_generated_reader():
    from zmesh.wire import Header
    for kw in (dict(kind=codec.REQUEST, corr=7, type_=b"GetQuote", deadline_ms=1700000000500),
               dict(kind=codec.PUBLISH, type_=b"P", sequence=3),
               dict(kind=codec.BYE), dict(kind=codec.REQUEST, corr=1, type_=b"x" * 128, flags=1),
               dict(kind=codec.REQUEST, corr=1, type_=b"abc"), dict(kind=codec.PING, corr=2**64 - 1)):
        a = codec.encode_header(sender_id=ME, session=SESSION, timestamp=False, **kw)
        b = codec.encode_header_builder(sender_id=ME, session=SESSION, timestamp=False, **kw)
        assert codec.verify(a, codec.HEADER_S, b"ZMH1") and len(a) <= 1024
        da, why = codec.decode_header(a)
        assert why is None and da == codec.decode_header(b)[0]
        g = Header.Header.GetRootAs(a, 0)
        assert (g.Kind(), g.CorrelationId(), g.Type() or b"", g.SenderId(), g.Sequence(),
                g.Flags(), g.Version()) == (da.kind, da.correlation_id, da.type, ME,
                                            da.sequence, da.flags, 1)
    # and it reads the spec's bytes (a layout the C++ builder chose)
    r, why = codec.decode_header(REQ_61)
    assert why is None and (r.sender_id, r.sender_session, r.timestamp_us) == \
        (ME, SESSION, 1700000000000000)
