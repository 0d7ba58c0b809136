#!/usr/bin/env python3
"""Translates a CUDA source (kernels/*.cu) into C++ for cudasim (see exec.h).

Three rewrites, everything else stays as written (line numbers too, through #line):
  name<targs><<<grid, block[, smem[, stream]]>>>(args);
      -> ::cudasim::exec::launch(::cudasim::exec::config(grid, block, ...), address, "name (file:line)",
             [&](auto... a) { return [=]() { name<targs>(a...); }; }(args));
     The arguments are copied when the launch is made, as CUDA copies kernel parameters; the call
     inside keeps template argument deduction working for kernels launched without <targs>.
  extern __shared__ T name[];  -> T* const name = static_cast<T*>(::cudasim::exec::dynamicShared());
  __shared__ T name[dims];     -> static T name[dims]; ::cudasim::exec::sharedVariable(&name, sizeof(name));
     (blocks run one at a time, so one static per declaration is the block's shared memory; the
     registration fills it with 0xFF at each block's start).
The translated file is compiled as C++ with exec/device.h force-included.

Usage: translate_cu.py input.cu output.cpp
"""
import os
import re
import sys


def mask_comments_and_strings(text):
    """The text with comments and string/char literals blanked (same length, newlines kept)."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            blank(i, j)
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        else:
            i += 1
    return "".join(out)


class TranslateError(Exception):
    pass


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def templated_kernels(masked):
    """Names of __global__ functions declared as templates (launched maybe without <targs>)."""
    names = set()
    decl = re.compile(r"__global__\s+void\s+(?:__launch_bounds__\s*\((?:[^()]|\([^()]*\))*\)\s*)?(\w+)\s*\(")
    for m in decl.finditer(masked):
        start = max(masked.rfind(";", 0, m.start()), masked.rfind("}", 0, m.start()), masked.rfind("{", 0, m.start()))
        if re.search(r"\btemplate\b", masked[start + 1:m.start()]):
            names.add(m.group(1))
    return names


def matching(masked, pos, open_ch, close_ch, step):
    """Index of the bracket matching the one at pos, scanning in direction step (+1 or -1)."""
    depth = 0
    k = pos
    while 0 <= k < len(masked):
        if masked[k] == open_ch:
            depth += 1
        elif masked[k] == close_ch:
            depth -= 1
            if depth == 0:
                return k
        k += step
    raise TranslateError("unbalanced %s%s at line %d" % (open_ch, close_ch, line_of(masked, pos)))


def collapse(s):
    return " ".join(s.split())


def launch_edits(text, masked, path):
    edits = []
    templated = templated_kernels(masked)
    for m in re.finditer(r"<<<", masked):
        i = m.start()
        # The callee: an id-expression, maybe with template arguments, right before <<<.
        j = i
        while j > 0 and masked[j - 1].isspace():
            j -= 1
        end = j
        if masked[j - 1] == ">":
            j = matching(masked, j - 1, ">", "<", -1)
            while j > 0 and masked[j - 1].isspace():
                j -= 1
        while j > 0 and (masked[j - 1].isalnum() or masked[j - 1] in "_:"):
            j -= 1
        start = j
        callee = collapse(text[start:end])
        if not callee:
            raise TranslateError("%s:%d: no kernel name before <<<" % (path, line_of(text, i)))
        # The configuration: up to >>> outside any brackets.
        k = i + 3
        depth = 0
        while k < len(masked) and not (depth == 0 and masked.startswith(">>>", k)):
            if masked[k] in "([{":
                depth += 1
            elif masked[k] in ")]}":
                depth -= 1
            k += 1
        if k >= len(masked):
            raise TranslateError("%s:%d: no >>> after <<<" % (path, line_of(text, i)))
        cfg = text[i + 3:k]
        k += 3
        while masked[k].isspace():
            k += 1
        if masked[k] != "(":
            raise TranslateError("%s:%d: no argument list after >>>" % (path, line_of(text, i)))
        close = matching(masked, k, "(", ")", 1)
        args = text[k + 1:close]
        base = callee.split("<")[0].split("::")[-1]
        if "<" in callee or base not in templated:
            address = "::cudasim::exec::kernelAddress(%s)" % callee
        else:
            address = "nullptr"  # deduced template arguments: the default shared-memory limit applies
        name = "%s (%s:%d)" % (callee, os.path.basename(path), line_of(text, i))
        call_args = "cudasimArgs..." if args.strip() else ""
        replacement = ("::cudasim::exec::launch(::cudasim::exec::config(%s), %s, \"%s\", "
                       "[&](auto... cudasimArgs) { return [=]() { %s(%s); }; }(%s))"
                       % (cfg, address, name, callee, call_args, args))
        missing = text.count("\n", start, close + 1) - replacement.count("\n")
        edits.append((start, close + 1, replacement + "\n" * max(missing, 0)))
    return edits


def shared_edits(text, masked, path):
    edits = []
    for m in re.finditer(r"\bextern\s+__shared__\b([^;]*?)\b(\w+)\s*\[\s*\]\s*;", masked):
        elem = collapse(re.sub(r"__align__\s*\([^)]*\)", " ", text[m.start(1):m.end(1)]))
        name = m.group(2)
        edits.append((m.start(), m.end(),
                      "%s* const %s = static_cast<%s*>(::cudasim::exec::dynamicShared());" % (elem, name, elem)))
    taken = [(a, b) for a, b, _ in edits]
    for m in re.finditer(r"\b__shared__\b([^;]*);", masked):
        if any(a <= m.start() < b for a, b in taken):
            continue
        decl = text[m.start(1):m.end(1)]
        name = re.search(r"(\w+)\s*(?:\[[^;]*\])?\s*$", masked[m.start(1):m.end(1)])
        if not name:
            raise TranslateError("%s:%d: cannot read the __shared__ declaration" % (path, line_of(text, m.start())))
        var = name.group(1)
        edits.append((m.start(), m.end(),
                      "static%s; ::cudasim::exec::sharedVariable(&%s, sizeof(%s));" % (decl, var, var)))
    return edits


def translate(text, path):
    masked = mask_comments_and_strings(text)
    edits = sorted(launch_edits(text, masked, path) + shared_edits(text, masked, path))
    for (a0, b0, _), (a1, _b1, _r) in zip(edits, edits[1:]):
        if a1 < b0:
            raise TranslateError("%s:%d: overlapping rewrites" % (path, line_of(text, a1)))
    out = text
    for a, b, r in reversed(edits):
        out = out[:a] + r + out[b:]
    return '#line 1 "%s"\n' % os.path.abspath(path) + out


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    src, dst = argv[1], argv[2]
    with open(src, encoding="utf-8") as f:
        text = f.read()
    try:
        out = translate(text, src)
    except TranslateError as e:
        sys.stderr.write("translate_cu.py: %s\n" % e)
        return 1
    tmp = dst + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(out)
    os.replace(tmp, dst)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
