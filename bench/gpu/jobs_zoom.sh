# face51-m and face51-xs fine-tuned on zoom-out copies with their clutter's faces labelled, as
# run 2026-12-04 (models/MODEL_CARD.md): face51-m from the first GPU run's checkpoint, carried in
# .gpu/ (build/ does not travel); face51-xs from the built-in one.
run m3  --init .gpu/m_gpu1.pt --imgsz 256 $FT --mosaic 0.5 --scale 0.6 --zoom-out 0.5 --workers 12 &
run xs3 --init models/face51_xs.pt --imgsz 64 $FT --mosaic 0.5 --scale 0.6 --zoom-out 0.5 --workers 2 &
