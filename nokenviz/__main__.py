from nokenviz.cli import main

raise SystemExit(main())
