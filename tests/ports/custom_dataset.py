import csv
import os

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, random_split
from torchvision.transforms import Lambda, ToTensor

# The "Datasets & DataLoaders" tutorial's custom data set: image files and a CSV of labels on disk, a Dataset class
# with __init__/__len__/__getitem__, transform=ToTensor() and a one-hot target_transform built with scatter_,
# random_split with a seeded torch.Generator, DataLoader with shuffle, workers (persistent, worker_init_fn) and
# a generator, one batch inspected, then a small classifier trained on one-hot targets and evaluated under
# torch.inference_mode(). The images are drawn with NumPy's seeded generator, so both runs read the same files.

os.makedirs("images", exist_ok=True)
draw = np.random.default_rng(0)
with open("labels.csv", "w", newline="") as f:
    writer = csv.writer(f)
    for i in range(300):
        label = i % 10
        img = draw.integers(0, 60, size=(12, 12), dtype=np.uint8)
        img[label + 1, 2:10] = 255  # a bright bar whose row is the class
        img[2:10, label + 1] = 200
        Image.fromarray(img, mode="L").save(f"images/img_{i:03d}.png")
        writer.writerow([f"img_{i:03d}.png", label])


class CustomImageDataset(Dataset):
    def __init__(self, annotations_file, img_dir, transform=None, target_transform=None):
        with open(annotations_file, newline="") as f:
            self.img_labels = [(name, int(label)) for name, label in csv.reader(f)]
        self.img_dir = img_dir
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.img_labels)

    def __getitem__(self, idx):
        name, label = self.img_labels[idx]
        image = Image.open(os.path.join(self.img_dir, name))
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


def seed_worker(worker_id):
    np.random.seed(torch.initial_seed() % 2**32)


dataset = CustomImageDataset(
    "labels.csv", "images",
    transform=ToTensor(),
    target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1)),
)
print("dataset size:", len(dataset))
image, label = dataset[3]
print(f"one sample: image {list(image.shape)} in [{image.min():.3f}, {image.max():.3f}], label {label}")

training_data, test_data = random_split(dataset, [0.8, 0.2], generator=torch.Generator().manual_seed(42))
print("split:", len(training_data), len(test_data))

g = torch.Generator()
g.manual_seed(0)
train_dataloader = DataLoader(training_data, batch_size=32, shuffle=True, num_workers=2,
                              persistent_workers=True, worker_init_fn=seed_worker, generator=g)
test_dataloader = DataLoader(test_data, batch_size=32, shuffle=False)

train_features, train_labels = next(iter(train_dataloader))
print(f"Feature batch shape: {list(train_features.size())}")
print(f"Labels batch shape: {list(train_labels.size())}")
img = train_features[0].squeeze()
label = train_labels[0]
print(f"first image {list(img.shape)}, its one-hot label sums to {label.sum().item()}")

model = nn.Sequential(nn.Flatten(), nn.Linear(144, 32), nn.ReLU(), nn.Linear(32, 10))
loss_fn = nn.CrossEntropyLoss()  # one-hot rows are class probabilities
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)

for epoch in range(6):
    model.train()
    total = 0.0
    for X, y in train_dataloader:
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(X)
    print(f"epoch {epoch}: mean loss {total / len(training_data):.4f}")

model.eval()
correct = 0
with torch.inference_mode():
    for X, y in test_dataloader:
        correct += (model(X).argmax(1) == y.argmax(1)).sum().item()
print(f"test accuracy: {correct / len(test_data):.3f}")
