import os

import torch
import torch.nn as nn

# Gradient clipping in a training loop: clip_grad_norm_ (its returned total norm printed with an f-string format
# spec), clip_grad_value_, the gradient norm computed by hand from p.grad, and a OneCycleLR schedule stepped every
# batch. A deep tanh MLP on a fixed target with a large learning rate, so that clipping matters; the start comes
# from init.pth and the data are fixed, so both runs must print the same numbers.

torch.manual_seed(0)
x = torch.linspace(-3, 3, 120).unsqueeze(1)
features = torch.cat([x, x.sin(), x.cos(), (x / 3) ** 2], dim=1)
target = (2 * x).sin() + 0.3 * x

model = nn.Sequential(
    nn.Linear(4, 48), nn.Tanh(),
    nn.Linear(48, 48), nn.Tanh(),
    nn.Linear(48, 48), nn.Tanh(),
    nn.Linear(48, 1),
)
if os.path.exists("init.pth"):
    model.load_state_dict(torch.load("init.pth", weights_only=True))
else:
    torch.save(model.state_dict(), "init.pth")

loss_fn = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
steps_per_epoch, epochs = 4, 40
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, steps_per_epoch=steps_per_epoch,
                                                epochs=epochs)
order = torch.arange(120).reshape(30, 4).t().reshape(-1)  # every 4th point in a batch: each batch spans the curve
batches = list(zip(features[order].split(30), target[order].split(30)))
print("batches:", len(batches), "first lr:", round(scheduler.get_last_lr()[0], 6))

clipped = 0
for epoch in range(epochs):
    for step, (xb, yb) in enumerate(batches):
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        by_hand = torch.sqrt(sum((p.grad.detach() ** 2).sum() for p in model.parameters()))
        total_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
        clipped += int(total_norm > 0.5)
        if epoch < 20:
            nn.utils.clip_grad_value_(model.parameters(), clip_value=0.1)
        optimizer.step()
        scheduler.step()
    if epoch % 8 == 0 or epoch == epochs - 1:
        largest = max(p.grad.abs().max().item() for p in model.parameters())
        print(f"epoch {epoch:2d}: loss {loss.item():.6f}  grad norm {total_norm:.5f} (by hand {by_hand:.5f})  "
              f"largest |grad| {largest:.4f}  lr {scheduler.get_last_lr()[0]:.6f}")

with torch.no_grad():
    final = loss_fn(model(features), target)
print(f"clipped {clipped} of {epochs * steps_per_epoch} steps; final loss {final:.6f}")
