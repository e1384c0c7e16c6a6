import io
import os

import torch
import torch.nn as nn
import torch.optim as optim

# Saving and loading as the save/load tutorial shows it: the state_dict's entries and sizes, a general checkpoint
# (epoch, model and optimizer state, loss) saved and resumed with map_location, warm-starting a different model
# with strict=False, a checkpoint in an in-memory buffer, and device objects (torch.device, .to(device)).
# A resumed run must continue exactly as the uninterrupted one, in each library; the start comes from init.pth.

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print("device type:", device.type)


class TheModelClass(nn.Module):
    def __init__(self):
        super(TheModelClass, self).__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.heads = nn.ModuleDict({"fc": nn.Linear(4 * 4 * 4, 16), "out": nn.Linear(16, 3)})

    def forward(self, x):
        x = torch.flatten(self.features(x), 1)
        return self.heads["out"](torch.relu(self.heads["fc"](x)))


# fixed data: 3 classes of 8x8 patterns (stripes, bars, checks) with a deterministic ripple
grid = torch.arange(64, dtype=torch.float32).reshape(8, 8)
rows, cols = grid // 8, grid % 8
patterns = torch.stack([(rows % 2), (cols % 2), ((rows + cols) % 2)]).float()
inputs = torch.cat([patterns + 0.3 * torch.sin(grid * (k + 1)) for k in range(8)]).unsqueeze(1)
labels = torch.arange(3).repeat(8)
inputs, labels = inputs.to(device), labels.to(device)
print("data", tuple(inputs.shape), "labels", labels[:6].tolist())

model = TheModelClass().to(device)
if os.path.exists("init.pth"):
    model.load_state_dict(torch.load("init.pth", map_location=device, weights_only=True))
else:
    torch.save(model.state_dict(), "init.pth")
optimizer = optim.Adam(model.parameters(), lr=0.01)
criterion = nn.CrossEntropyLoss()

print("Model's state_dict:")
for param_tensor in model.state_dict():
    print(param_tensor, "\t", list(model.state_dict()[param_tensor].size()))
print("Optimizer's param_groups lr:", optimizer.state_dict()["param_groups"][0]["lr"])


def run_epoch(model, optimizer):
    model.train()
    optimizer.zero_grad()
    loss = criterion(model(inputs), labels)
    loss.backward()
    optimizer.step()
    return loss


for epoch in range(5):
    loss = run_epoch(model, optimizer)
PATH = "checkpoint.tar"
torch.save({
    'epoch': epoch,
    'model_state_dict': model.state_dict(),
    'optimizer_state_dict': optimizer.state_dict(),
    'loss': loss,
}, PATH)
print(f"saved at epoch {epoch}, loss {loss.item():.6f}, optimizer state for {len(optimizer.state_dict()['state'])} "
      "parameters")

uninterrupted = [run_epoch(model, optimizer).item() for _ in range(5)]
print("uninterrupted:", " ".join(f"{v:.6f}" for v in uninterrupted))

model = TheModelClass().to(device)  # on its device before the optimizer is built, so its state lands there too
optimizer = optim.Adam(model.parameters(), lr=0.01)
checkpoint = torch.load(PATH, map_location=device, weights_only=True)
model.load_state_dict(checkpoint['model_state_dict'])
optimizer.load_state_dict(checkpoint['optimizer_state_dict'])
epoch = checkpoint['epoch']
loss = checkpoint['loss']
model.train()
print(f"resumed from epoch {epoch}, loss {loss.item():.6f}")
resumed = [run_epoch(model, optimizer).item() for _ in range(5)]
print("resumed:      ", " ".join(f"{v:.6f}" for v in resumed))
print("resumed run equals uninterrupted run:", resumed == uninterrupted)

model.eval()
with torch.no_grad():
    accuracy = (model(inputs).argmax(1) == labels).float().mean().item()
print(f"accuracy after resuming: {accuracy:.3f}")

# warm-starting a model with another head: strict=False reports what did not fit
class BiggerModel(TheModelClass):
    def __init__(self):
        super().__init__()
        self.extra = nn.Linear(3, 3)


warm = BiggerModel()
result = warm.load_state_dict(model.state_dict(), strict=False)
print("missing keys:", sorted(result.missing_keys), "unexpected keys:", sorted(result.unexpected_keys))
print("features copied:", torch.equal(warm.features[0].weight, model.features[0].weight.cpu()))

# a checkpoint in memory
buffer = io.BytesIO()
torch.save(model.state_dict(), buffer)
buffer.seek(0)
state = torch.load(buffer, weights_only=True)
print("buffer round trip:", all(torch.equal(state[k], v) for k, v in model.state_dict().items()))
print("keys:", list(state.keys())[:3])
