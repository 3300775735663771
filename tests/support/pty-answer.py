#!/usr/bin/env python3
"""Run a command on a pseudo-terminal and answer its prompts.

    pty-answer.py PROMPT ANSWER [PROMPT ANSWER ...] -- COMMAND [ARGS ...]

Each ANSWER is typed, followed by Enter, once PROMPT has appeared in the command's output
and the terminal's echo is off (a hidden prompt turns it off before reading), so a test can
check that a typed secret never shows. Prints everything the command wrote to the terminal
and exits with the command's status (124 after 60 s without finishing)."""
import os
import pty
import select
import signal
import sys
import termios
import time

sep = sys.argv.index("--")
pairs = sys.argv[1:sep]
answers = list(zip(pairs[0::2], pairs[1::2]))
command = sys.argv[sep + 1:]

pid, fd = pty.fork()
if pid == 0:
    os.execvp(command[0], command)

out = b""
seen = 0
deadline = time.time() + 60
while True:
    if answers and answers[0][0].encode() in out[seen:]:
        prompt, answer = answers[0]
        if termios.tcgetattr(fd)[3] & termios.ECHO == 0:
            answers.pop(0)
            seen = out.index(prompt.encode(), seen) + len(prompt)
            os.write(fd, answer.encode() + b"\n")
            continue
    ready, _, _ = select.select([fd], [], [], 0.05)
    if ready:
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    if time.time() > deadline:
        os.kill(pid, signal.SIGKILL)
        sys.stdout.buffer.write(out)
        sys.exit(124)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
