"""Writes python3.jsonl: what CPython prints, for the Go tests to check.

Run from this directory with CPython 3.11 (the last Python Prefect 1.4.1
supports), which the tests expect:

    PYTHONHASHSEED=0 python3 python3.py > python3.jsonl

Each line is one JSON object, one of:

    {"src": S, "repr": R, "str": T}    ast.literal_eval(S) and its repr()
                                       and str() ("str" left out when it is
                                       the repr; "str_not_utf8": true in its
                                       place when it holds a lone surrogate)
    {"src": S, "repr_error": E}        literal_eval(S) works; repr() raises E
    {"src": S, "error": E}             literal_eval(S) raises E
    {"float": H, "repr": R}            repr() of float.fromhex(H)
    {"complex": [H, H], "repr": R}     repr() of complex(re, im)
    {"json": J, "repr": R}             repr(json.loads(J)), or "error": E
    {"unprintable": [LO, HI], "unassigned": B}
                                       code points LO..HI are not printable
                                       (str.isprintable), and are (B) or
                                       are not unassigned (category Cn)
"""

import ast
import json
import math
import random
import sys
import unicodedata

assert sys.version_info[:2] == (3, 11), sys.version

out = []


def row(**kw):
    out.append(json.dumps(kw, ensure_ascii=True, sort_keys=True))


def utf8(s):
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def literal(src):
    try:
        v = ast.literal_eval(src)
    except Exception as e:  # what literal_eval raises is the answer
        row(src=src, error=type(e).__name__)
        return
    try:
        r = repr(v)
        s = str(v)
    except Exception as e:
        row(src=src, repr_error=type(e).__name__)
        return
    if not utf8(s):
        row(src=src, repr=r, str_not_utf8=True)
    elif s == r:
        row(src=src, repr=r)
    else:
        row(src=src, repr=r, str=s)


# The cases the Go tests have named, and those issue 12 asks for.
LITERALS = [
    # ints
    "0", "00", "0_0", "7", "1_000_000", "0x_ff", "0XFF", "0o777", "0b1_0",
    "-0x10", "- 5", "-(5)", "+(5)", "9223372036854775807",
    "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
    "-0x8000000000000000", "99999999999999999999", "18446744073709551616",
    "123456789012345678901234567890", "-123456789012345678901234567890",
    "9" * 4300, "-" + "9" * 4300, "9" * 4301, "0x" + "f" * 4000,
    "0x" + "f" * 3571, "0x" + "f" * 3572,
    # floats
    "1.5", "1.", ".25", "1e-3", "1E+3", "1_0.5_0", "01.5", "1.e2", "0.1",
    "0.2", "0.3", "1e16", "1e15", "1e17", "123456789.125", "1e-4", "1e-5",
    "1.5e-7", "1.2345678901234567e300", "-0.0", "0.0", "1e400", "-1e400",
    "1e22", "1e23", "5e-324", "1.7976931348623157e308", "2.5e-308",
    "9007199254740993.0", "100.0", "1e100", "3.141592653589793",
    "1" * 4301 + ".0", "0.000001", "0.0000001", "1234567890123456.0",
    "12345678901234567.0", "-1e-300",
    # complex
    "2j", "1.5J", "01j", "1+2j", "1-2j", "-1.5+2j", "+1j", "-(2j)", "-0j",
    "0j", "0-0j", "-0-0j", "1e400j", "-1e400j", "1e400+1j", "1+1e400j",
    "99999999999999999999+1j", "1e16j", "0.1+0.2j", "-0.0+1j", "(1+2j)",
    # constants
    "True", "False", "None",
    # str
    "'a'", '"a"', "'''a\nb'''", '"""q"q"""', r"'it\'s'", '"tab\\there"',
    r"'\x41\101\u00e9\U0001F600'", r"'\q'", "'a\\\nb'", r"r'\n'", r'R"\d+"',
    r"r'\''", "u'x'", "'a' \"b\" 'c'", "('a'\n 'b')", "'é'", "\"it's\"",
    "'q\"\\''", "'\\n\\t\\x01é\\u200b'", r"'\udcff'", r"'\udc80\udcff'",
    r"'\x7f\x80\x9f\xa0\xad\xff'", r"'\u2028\u2029\u3000\ufeff'",
    r"'\U0001F600\U000E0001\U0010FFFF'", r"'\0\1\12\123\1234'", "''",
    "'\"'", "'\\''", "'\\'\"'", '"\\"\'"', r"'\\'", "'\\a\\b\\f\\v'",
    r"'\N{EM DASH}'", r"'\N{DASH}'", "'日本語'", "'\U0001F600'",
    r"'\ud800'", r"'\udc7f'", r"'\U0000dcc3'", r"'\udcc3\udca9'",
    r"'\udcff\udc80\U0000dcc3\udc7f'", r"'\udce2\udc82\udcac'",
    # bytes
    r"b'a\x00'", r"rb'\x00'", r"B'\N'", "b''", "b'a\"b'", "b\"a'b\"",
    "b'\\'\"'", r"b'\x00\x7f\x80\xff\t\n\r'", "b'é'", r"b'\u00e9'",
    "b'a' b'b'",
    # containers
    "[]", "[1, [2, [3]]]", "[1,]", "[\n 1, # one\n 2\n]", "()", "(1,)", "(1)",
    "((1, 2), 3)", "1,", "1, 2,", "((),)", "(((1,),),)", "{}",
    "{'a': 1, 'b': [2]}", "{'a': 1, 'a': 2}", "{1: 'x', True: 'y'}",
    "{1: 'x', True: 'y', 1.0: 'z'}", "{(1, 'a'): 1}", "{None: 1}",
    "{1.5: 'a', 2j: 'b', b'x': 'c', ((1,), 2): 'd', 2.0: 'e', 2: 'f', -0.0: 'g'}",
    "{0.0: 'a', -0.0: 'b'}", "{1, 2, 1.0}", "{1, 2, 3}", "{1, True, 1.0, 1+0j}",
    "{0, False, 0.0, -0.0, 0j}", "{None}", "{'a'}", "{(1, 2)}", "{b'x'}",
    "set()", "set( )", "[set(), (), {}, [], '', b'']",
    "{('a,sb',): 1, ('a', 'b'): 2}", "{('a,sb',), ('a', 'b')}",
    "[1, (2,), {3: {4}}, set(), {'k': (None, True, 1.5, -0.0, 2j, b'\\x00')}]",
    "{'a': {'b': {'c': [1, (2, 3), {4}]}}}",
    "[" * 199 + "]" * 199, "[" * 200 + "]" * 200, "[" * 201 + "]" * 201,
    "(" * 199 + ")" * 199, "{'a': " * 100 + "1" + "}" * 100,
    "-" * 150 + "1", "-1", "-(-1)",
    # whitespace, comments, lines
    "  5  ", "\t5", "5 # comment", "\n5\n", "# c\n5", "5\r\n", "\r\n5",
    "[1,\r\n2]", "\\\n5", "5\\\n", "[1, \\\n 2]",
    # refused
    "", " ", "01", "0_7", "1_", "1__0", "0x", "0b2", "1e", "1abc", "1.2.3",
    "..5", "...", "--1", "-True", "-'a'", "~1", "1 + 2", "2j + 1", "1 + -2j",
    "1+2j+3j", "2 * 3", "x", "true", "none", "None()", "[1][0]",
    "{'a': 1}['a']", "(1).real", "f'x'", "'a' f'b'", "'a' b'b'", "'a",
    "'a\nb'", r"'\x4'", "[1, 2", "[1 2]", "{1: 2, 3}", "{[1]: 2}", "{[1]}",
    "{([1],): 2}", "{**a}", "[*a]", "1 if 1 else 2", "lambda: 1", "\n 5",
    "5\n6", "a\x00", "set(1)", "1:2", "(1 2)", "{1: 2,}", "{1,}", "(,)",
    "[,]", "1,,", ",", "1;", "5 5", "'a' 1", "b'a' 'b'", "1e400+1e400j",
    "1+1+1j", "1j+1", "-(1+2j)", "+-1", "set()()", "set[1]", "{set()}",
    "{{}: 1}", "{(1, [2]): 3}", "t'x'", "1if 1else 2", "1 .real",
    "0x" + "f" * 4000 + "+1j",
]


def unassigned(c):
    return unicodedata.category(chr(c)) == "Cn"


def rand_str(rng):
    kinds = [
        lambda: chr(rng.randrange(0x20, 0x7F)),
        lambda: rng.choice("'\"\\\t\n\r\x00\x7f"),
        lambda: chr(rng.randrange(0x80, 0x100)),
        lambda: chr(rng.randrange(0x100, 0xD800)),
        lambda: chr(rng.randrange(0xE000, 0x10000)),
        lambda: chr(rng.randrange(0x10000, 0x110000)),
        lambda: chr(rng.randrange(0xDC80, 0xDD00)),  # surrogateescape
    ]
    s = []
    while len(s) < rng.randrange(0, 8):
        c = rng.choice(kinds)()
        if not unassigned(ord(c)) or 0xDC80 <= ord(c) < 0xDD00:
            s.append(c)
    s = "".join(s)
    if s.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape") != s:
        return ""  # a lone surrogate a Go string cannot hold (see the package doc)
    return s


def rand_float(rng):
    while True:
        x = rng.choice([
            lambda: float.fromhex("0x1.%013xp%d" % (rng.getrandbits(52), rng.randrange(-1074, 1024))),
            lambda: rng.uniform(-1e6, 1e6),
            lambda: float(rng.randrange(-10**18, 10**18)),
            lambda: rng.randrange(0, 10**6) / 10 ** rng.randrange(0, 12),
            lambda: rng.choice([0.0, -0.0, 1e16, 1e15, 1e-4, 1e-5]),
        ])()
        if math.isfinite(x):
            return x


def rand_hashable(rng, depth):
    k = rng.randrange(8 if depth < 3 else 6)
    if k == 0:
        return rng.choice([None, True, False])
    if k == 1:
        return rng.choice([rng.randrange(-100, 100), rng.getrandbits(rng.randrange(1, 200)) * rng.choice([1, -1])])
    if k == 2:
        return rand_float(rng)
    if k == 3:
        return complex(rand_float(rng), rand_float(rng))
    if k == 4:
        return rand_str(rng)
    if k == 5:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 6)))
    return tuple(rand_hashable(rng, depth + 1) for _ in range(rng.randrange(0, 4)))


def rand_value(rng, depth=0):
    k = rng.randrange(10 if depth < 4 else 6)
    if k < 6:
        return rand_hashable(rng, depth)
    n = rng.randrange(0, 4)
    if k == 6:
        return [rand_value(rng, depth + 1) for _ in range(n)]
    if k == 7:
        return tuple(rand_value(rng, depth + 1) for _ in range(n))
    if k == 8:
        return {rand_hashable(rng, depth + 1): rand_value(rng, depth + 1) for _ in range(n)}
    return {rand_hashable(rng, depth + 1) for _ in range(n)}


def same_set_order(a, b):
    """Whether every set in b, the value literal_eval read from repr(a),
    lists its elements in a's order: the order written, which the Go Set
    keeps."""
    if isinstance(a, set):
        return [repr(x) for x in a] == [repr(x) for x in b]
    if isinstance(a, (list, tuple)):
        return all(same_set_order(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return (same_set_order(list(a), list(b)) and
                all(same_set_order(x, y) for x, y in zip(a.values(), b.values())))
    return True


def main():
    for src in LITERALS:
        literal(src)

    rng = random.Random(12)
    n = 0
    while n < 600:
        v = rand_value(rng)
        src = repr(v)
        if not utf8(src) or not same_set_order(v, ast.literal_eval(src)):
            continue  # a set Python would print in another order
        literal(src)
        n += 1

    floats = [0.0, -0.0, math.inf, -math.inf, math.nan, 1e16, 1e15, 0.1, 1e22,
              5e-324, 1.7976931348623157e308, 2.2250738585072014e-308,
              9007199254740993.0, 1e-4, 1e-5, 123456789.125]
    floats += [rand_float(rng) for _ in range(1500)]
    for f in floats:
        row(float=f.hex(), repr=repr(f))

    parts = [0.0, -0.0, 1.0, -1.0, 1.5, 1e16, 1e-5, math.inf, -math.inf, math.nan]
    for re_ in parts:
        for im in parts:
            row(complex=[re_.hex(), im.hex()], repr=repr(complex(re_, im)))
    for _ in range(200):
        re_, im = rand_float(rng), rand_float(rng)
        row(complex=[re_.hex(), im.hex()], repr=repr(complex(re_, im)))

    for text in ["3", "-7.5", "1e3", "1E400", "-1e400", "-0", "-0.0", "0.1",
                 "1.0", "1e-7", "100000000000000000000.0", "9223372036854775807",
                 "9223372036854775808", "-9223372036854775808",
                 "-9223372036854775809", "123456789012345678901234",
                 '"s"', "null", "true", "[1, 2.5, \"x\", null, false]",
                 '{"a": [1, {"b": 1e16}]}', '{"a": 1, "a": 2}', " 5 ", "01",
                 "1.", ".5", "+1", "", "1 2", '"a" x', "NaN", "Infinity",
                 "-Infinity", "1" * 4300, "1" * 4301, "0x10", "1e", "-",
                 "[1,]", '"\\ud800"']:
        try:
            row(json=text, repr=repr(json.loads(text)))
        except Exception as e:
            row(json=text, error=type(e).__name__)

    lo = None
    for c in range(0x110001):
        bad = c <= 0x10FFFF and not chr(c).isprintable()
        key = (bad, bad and unassigned(c))
        if lo is not None and key == state:
            continue
        if lo is not None and state[0]:
            row(unprintable=[lo, c - 1], unassigned=state[1])
        lo, state = c, key

    print("\n".join(out))


main()
