#!/usr/bin/python3
# A stand-in for qemu-img in the qemu backend's lifecycle tests: "create -f qcow2 [-o ...] FILE SIZE" writes a
# small file at FILE holding the arguments.
import sys
args = sys.argv[1:]
assert args[:3] == ["create", "-f", "qcow2"], args
with open(args[-2], "w") as f:
    f.write("stand-in qcow2 " + " ".join(args) + "\n")
