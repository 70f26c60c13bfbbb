from ops.tasks.program import main

main()
