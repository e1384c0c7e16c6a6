import os

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

# Regression of a 1-D curve with an MLP: TensorDataset and DataLoader, nn.MSELoss, Adam with weight decay, a
# StepLR then a CosineAnnealingLR schedule, get_last_lr(), evaluation under no_grad, and predictions at a few
# points. The data are fixed and the start comes from init.pth, so both runs must print the same numbers.

torch.set_default_dtype(torch.float32)
x = torch.linspace(-2, 2, 256).unsqueeze(1)
y = x ** 3 - 2 * x + 0.5 * torch.sin(4 * x)
x_val = torch.linspace(-1.9, 1.9, 64).unsqueeze(1)
y_val = x_val ** 3 - 2 * x_val + 0.5 * torch.sin(4 * x_val)

train_loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=False)
print(f"{len(train_loader.dataset)} samples in {len(train_loader)} batches")

model = nn.Sequential(
    nn.Linear(1, 32),
    nn.Tanh(),
    nn.Linear(32, 32),
    nn.Tanh(),
    nn.Linear(32, 1),
)
if os.path.exists("init.pth"):
    model.load_state_dict(torch.load("init.pth", weights_only=True))
else:
    torch.save(model.state_dict(), "init.pth")

criterion = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-2, weight_decay=1e-5)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=15, gamma=0.5)

for epoch in range(1, 61):
    model.train()
    epoch_loss = 0.0
    for xb, yb in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        epoch_loss += loss.item() * xb.size(0)
    scheduler.step()
    if epoch % 10 == 0:
        model.eval()
        with torch.no_grad():
            val_loss = criterion(model(x_val), y_val).item()
        print(f"epoch {epoch:3d}  train {epoch_loss / len(train_loader.dataset):.6f}  val {val_loss:.6f}  "
              f"lr {scheduler.get_last_lr()[0]:.6f}")

# a second phase: restart the optimizer with a cosine schedule
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=20, eta_min=1e-5)
for epoch in range(1, 21):
    for xb, yb in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
    scheduler.step()
    if epoch % 5 == 0:
        with torch.no_grad():
            val_loss = criterion(model(x_val), y_val).item()
        print(f"cosine epoch {epoch:3d}  val {val_loss:.6f}  lr {optimizer.param_groups[0]['lr']:.6f}")

with torch.no_grad():
    probe = torch.tensor([[-1.5], [0.0], [1.5]])
    print("predictions:", [round(v, 4) for v in model(probe).squeeze(1).tolist()])
    print("targets:    ", [round(v, 4) for v in (probe ** 3 - 2 * probe + 0.5 * torch.sin(4 * probe)).squeeze(1).tolist()])
