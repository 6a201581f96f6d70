"""gait_tf: gait recognition on Keras 3 / TensorFlow 2, exportable to TF Serving."""
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).parent

setup(
    name="gait_tf",
    version="0.1.0",
    description="People identification by gait: Keras 3 models, training, evaluation, "
    "export and serving with TensorFlow Serving.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.13",
    # namespace discovery: the data folders (gait_tf/data/partitions, gait_tf/segmentation/weights)
    # have no __init__.py but are importable, so setuptools wants them listed as packages (it
    # warned ~90 lines otherwise); their files are declared as package data below
    packages=find_namespace_packages(include=["gait_tf", "gait_tf.*"], exclude=["*.__pycache__"]),
    # the packages live at the project root: said explicitly, `pip install -e .` uses a plain
    # .pth file (this folder on sys.path) instead of an import hook that warns 10 more lines
    package_dir={"": "."},
    include_package_data=True,
    package_data={"gait_tf.data.partitions": ["*.json"],
                  "gait_tf.segmentation.weights": ["*.keras", "*.json"],
                  "gait_tf.synth": ["*.json"],
                  "gait_tf.pretrained.weights": ["*.keras", "*.json", "*.md"]},
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.12",
        "tensorflow-serving-api>=2.21,<2.22",
        "grpcio>=1.60",
        "numpy>=1.26",
        "scipy>=1.11",
        "pillow>=10.0",
        "matplotlib>=3.8",
        # Deliberate additions: scikit-learn (linear SVM, t-SNE), opencv-python-headless
        # and imageio[ffmpeg] (video I/O, morphology), PyYAML (training configs),
        # tqdm (progress bars).
        "scikit-learn>=1.4",
        "opencv-python-headless>=4.8,<5",  # 4.x: HOG people detector (gone from 5.x)
        "ai-edge-litert>=2.0",  # LiteRT interpreter for the BlazePose .tflite models and LiteRT exports
        # ONNX export (tf2onnx: Keras 3's own ONNX export goes through it on the TF backend),
        # its check (onnx) and verification/serving runtime (onnxruntime)
        "tf2onnx>=1.17",
        "onnx>=1.17",
        "onnxruntime>=1.20",
        "faiss-cpu>=1.9",  # approximate nearest-neighbour search for large galleries
        "imageio>=2.31",
        "imageio-ffmpeg>=0.4.9",
        "pyyaml>=6.0",
        "tqdm>=4.66",
    ],
    extras_require={
        "dev": ["pytest>=8", "pytest-timeout>=2.2", "pytest-xdist>=3.5"],
        # torch is only needed to read PyTorch checkpoints (`gait-tf convert`).
        "convert": ["torch==2.13.0"],
    },
    entry_points={"console_scripts": ["gait-tf=gait_tf.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
