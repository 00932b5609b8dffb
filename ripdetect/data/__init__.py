"""Data: safe image decoding, dataset layouts (class folders, manifests, de Silva, YOLO/RipVIS), localisation
labels, the torch dataset, and augmentation."""
