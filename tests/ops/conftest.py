"""Operations tests: real `smarts3 serve` processes, real signals, raw sockets (helpers in opskit.py)."""
