import copy
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# A learning-rate range test, then training with ReduceLROnPlateau: the learning rate is set by hand in
# optimizer.param_groups, the weights are kept with copy.deepcopy(model.state_dict()) and restored with
# load_state_dict, and the scheduler steps on the validation loss. Two interleaved half-moons, made without
# random numbers; the start comes from init.pth and nothing is shuffled, so both runs must print the same.


def moons(n, phase):
    t = torch.linspace(0, math.pi, n)
    wobble = 0.1 * torch.sin(7 * t + phase)
    upper = torch.stack([torch.cos(t), torch.sin(t) + wobble], dim=1)
    lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t) - wobble], dim=1)
    x = torch.cat([upper, lower])
    y = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
    order = torch.arange(2 * n).reshape(2, n).t().reshape(-1)  # interleave the classes
    return x[order], y[order]


x_train, y_train = moons(200, 0.0)
x_val, y_val = moons(50, 1.0)
train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=40)
print("train", tuple(x_train.shape), "val", tuple(x_val.shape), "classes", y_train.bincount().tolist())


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(2, 32)
        self.hidden2 = nn.Linear(32, 32)
        self.out = nn.Linear(32, 2)

    def forward(self, x):
        return self.out(F.relu(self.hidden2(F.relu(self.hidden(x)))))


model = MLP()
if os.path.exists("init.pth"):
    model.load_state_dict(torch.load("init.pth", weights_only=True))
else:
    torch.save(model.state_dict(), "init.pth")
initial_state = copy.deepcopy(model.state_dict())

# the range test: one batch per learning rate, growing geometrically, stop when the loss explodes
optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
lrs = torch.logspace(-3, 0.5, steps=24)
losses = []
batches = iter(train_loader)
for lr in lrs:
    for group in optimizer.param_groups:
        group["lr"] = lr.item()
    try:
        xb, yb = next(batches)
    except StopIteration:
        batches = iter(train_loader)
        xb, yb = next(batches)
    loss = F.cross_entropy(model(xb), yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    print(f"lr {lr.item():.5f}  loss {loss.item():.5f}")
    if loss.item() > 4 * min(losses):
        break
best = min(range(len(losses)), key=losses.__getitem__)
chosen = lrs[best].item() / 10
print(f"lowest loss at lr {lrs[best].item():.5f}; training with lr {chosen:.5f}")

model.load_state_dict(initial_state)
print("weights restored:", torch.equal(model.hidden.weight, initial_state["hidden.weight"]))
optimizer = torch.optim.SGD(model.parameters(), lr=chosen, momentum=0.9)
scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1)

for epoch in range(1, 31):
    model.train()
    for xb, yb in train_loader:
        optimizer.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(x_val)
        val_loss = F.cross_entropy(logits, y_val).item()
        val_acc = (logits.argmax(dim=1) == y_val).float().mean().item()
    before = optimizer.param_groups[0]["lr"]
    scheduler.step(val_loss)
    after = optimizer.param_groups[0]["lr"]
    if epoch % 5 == 0 or after != before:
        print(f"epoch {epoch:2d}  val loss {val_loss:.5f}  val acc {val_acc:.3f}  lr {after:.6f}")
print("final lr", optimizer.param_groups[0]["lr"])
