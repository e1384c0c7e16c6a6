import os
import random
from collections import Counter

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

# A bag-of-embeddings text classifier without an RNN, in the manner of the text-classification tutorial: a tokenizer
# and a vocabulary with <pad>/<unk>, a collate_fn that pads a batch, nn.Embedding(padding_idx=0) with masked mean
# pooling and a linear head, SGD with StepLR and clip_grad_norm_, train/evaluate functions reporting accuracy.
# The reviews are generated from fixed word lists by Python's random.Random(0), and the start comes from init.pth,
# with shuffle=False, so both runs must print the same numbers.

rng = random.Random(0)
positive = "good great excellent wonderful superb lovely enjoyable brilliant fun delightful".split()
negative = "bad awful terrible boring poor dull dreadful weak annoying mediocre".split()
neutral = "the movie film plot actors story was is a and it this with very quite really scenes music".split()
topics = ["world", "sports", "business", "science"]


def make_review():
    label = rng.randrange(2)
    words = [rng.choice(neutral) for _ in range(rng.randint(4, 12))]
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(positive if label else negative))
    if rng.random() < 0.2:  # a little noise: a word of the other side
        words.insert(rng.randrange(len(words) + 1), rng.choice(negative if label else positive))
    return label, " ".join(words)


reviews = [make_review() for _ in range(600)]
train_iter, test_iter = reviews[:480], reviews[480:]


def tokenizer(text):
    return text.lower().split()


counter = Counter(tok for _, text in train_iter for tok in tokenizer(text))
itos = ["<pad>", "<unk>"] + sorted(counter, key=lambda t: (-counter[t], t))
vocab = {tok: i for i, tok in enumerate(itos)}
print("vocabulary:", len(vocab), "tokens; most common:", itos[2:7])


def text_pipeline(x):
    return [vocab.get(tok, 1) for tok in tokenizer(x)]


class ReviewDataset(Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        return self.items[idx]


def collate_batch(batch):
    label_list, text_list = [], []
    for _label, _text in batch:
        label_list.append(_label)
        text_list.append(text_pipeline(_text))
    longest = max(len(t) for t in text_list)
    padded = [t + [0] * (longest - len(t)) for t in text_list]
    return torch.tensor(label_list, dtype=torch.int64), torch.tensor(padded, dtype=torch.int64)


class TextClassificationModel(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_class):
        super(TextClassificationModel, self).__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.fc = nn.Linear(embed_dim, num_class)

    def forward(self, text):
        embedded = self.embedding(text)  # (B, L, D)
        mask = (text != 0).unsqueeze(-1).float()  # (B, L, 1)
        pooled = (embedded * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        return self.fc(pooled)


model = TextClassificationModel(len(vocab), 16, 2)
if os.path.exists("init.pth"):
    model.load_state_dict(torch.load("init.pth", weights_only=True))
else:
    torch.save(model.state_dict(), "init.pth")
print("padding row is zero:", bool((model.embedding.weight[0] == 0).all()))

train_dataloader = DataLoader(ReviewDataset(train_iter), batch_size=16, shuffle=False, collate_fn=collate_batch)
test_dataloader = DataLoader(ReviewDataset(test_iter), batch_size=64, shuffle=False, collate_fn=collate_batch)

criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=2.0)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.8)


def train(dataloader):
    model.train()
    total_acc, total_count, total_loss = 0, 0, 0.0
    for idx, (label, text) in enumerate(dataloader):
        optimizer.zero_grad()
        predicted_label = model(text)
        loss = criterion(predicted_label, label)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        total_acc += (predicted_label.argmax(1) == label).sum().item()
        total_count += label.size(0)
        total_loss += loss.item() * label.size(0)
    return total_acc / total_count, total_loss / total_count, float(norm)


def evaluate(dataloader):
    model.eval()
    total_acc, total_count = 0, 0
    with torch.no_grad():
        for idx, (label, text) in enumerate(dataloader):
            predicted_label = model(text)
            total_acc += (predicted_label.argmax(1) == label).sum().item()
            total_count += label.size(0)
    return total_acc / total_count


print(f"accuracy before training {evaluate(test_dataloader):8.3f}")
for epoch in range(1, 9):
    accu_train, loss_train, last_norm = train(train_dataloader)
    accu_val = evaluate(test_dataloader)
    scheduler.step()
    print(f"| end of epoch {epoch:3d} | train accuracy {accu_train:8.3f} | loss {loss_train:8.5f} | "
          f"valid accuracy {accu_val:8.3f} | last grad norm {last_norm:.5f} | lr {scheduler.get_last_lr()[0]:.4f}")

sentiment = {0: "negative", 1: "positive"}
for text in ["a wonderful film with brilliant music", "the plot was dull and the actors awful"]:
    with torch.no_grad():
        out = model(torch.tensor([text_pipeline(text)]))
        print(f"'{text}' is {sentiment[out.argmax(1).item()]}")
