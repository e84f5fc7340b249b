"""The challenge submission: build.py writes the folder and zip (the .tflite, templates/run_model.py
and the evaluator's own modules vendored), verify.py installs it alone in a fresh virtual
environment and checks its landmarks against the evaluator's. Sits above compiler/."""
