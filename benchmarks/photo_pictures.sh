#!/usr/bin/env bash
# Before/after pictures of the desktop case: Kodak24 photos halved and saved as JPEG quality 60, restored with the
# default model and with the benchmark model sr-x4, each pair put side by side by `irtool compare`.
#
#   IRTOOL_DATA_DIR=../shared/datasets bash benchmarks/photo_pictures.sh OUT_DIR [kodim03 kodim05 kodim23]
#
# OUT_DIR/jpeg/*.jpg are the inputs; OUT_DIR/default/ and OUT_DIR/sr-x4/ the outputs; OUT_DIR/*.html and *.jpg the
# comparisons (a slider page and a still picture per image and model).
set -euo pipefail
out=${1:?usage: photo_pictures.sh OUT_DIR [IMAGE ...]}
shift
images=("$@")
[ $# -eq 0 ] && images=(kodim03 kodim05 kodim23)
mkdir -p "$out/jpeg"
for name in "${images[@]}"; do
  python - "$IRTOOL_DATA_DIR/Kodak24/$name.png" "$out/jpeg/$name.jpg" <<'EOF'
import sys, cv2
img = cv2.imread(sys.argv[1], cv2.IMREAD_COLOR)
half = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
cv2.imwrite(sys.argv[2], half, [cv2.IMWRITE_JPEG_QUALITY, 60])
EOF
done
irtool restore "$out/jpeg" -o "$out/default" -f png --overwrite -q
irtool restore "$out/jpeg" -o "$out/sr-x4" -m sr-x4 -f png --overwrite -q
for name in "${images[@]}"; do
  for model in default sr-x4; do
    irtool compare "$out/jpeg/$name.jpg" "$out/$model/$name.png" -o "$out/$name-$model.html" -q \
      --label-before "JPEG q60, half size" --label-after "irtool restore ($model)"
    irtool compare "$out/jpeg/$name.jpg" "$out/$model/$name.png" -o "$out/$name-$model.jpg" -q \
      --label-before "JPEG q60, half size" --label-after "irtool restore ($model)" --max-side 1024
  done
done
echo "pictures in $out"
