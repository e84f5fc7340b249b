# One 51-point checkpoint per pose family, the same recipe, from scratch at 96 px (issue: families).
# Measured 2026-12-04 with seven trainings side by side on one H200 (16 cores): 28-31 epochs in
# 413 s, 11-17 s an epoch, CPU-bound; fp32 AFW NME 9.9% (yolov8), 10.8% (yolo11), every face
# missed (yolo26, 16 epochs). Run these three alone, with the whole command's budget.
for a in yolov8 yolo11 yolo26; do run $a --arch $a --imgsz 96 --degrees 10 --workers 4 & done
