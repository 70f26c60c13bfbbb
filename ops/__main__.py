from ops.tasks.program import main

try:
    main()
finally:
    # CPython marks a KeyboardInterrupt that ends any *string* exec/eval as unhandled even when
    # it is caught (dataclasses and namedtuple build methods that way, so a Ctrl-C or SIGTERM
    # landing during an import does it), and under ``python -m`` it then ends the process by
    # SIGINT instead of with our exit code (130, "error: interrupted"). The flag is cleared at
    # the start of every string exec, so one trivial exec on the way out restores our code.
    # A KeyboardInterrupt that really escapes main() still sets it again, as it should.
    exec("None")
