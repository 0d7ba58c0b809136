#include "lora_panel.h"

#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

#include "conversation_adapter.h"
#include "engine_controller.h"

namespace hearth::gui {

LoraPanel::LoraPanel(EngineController* engine, QWidget* parent) : QWidget(parent), m_engine(engine)
{
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(new QLabel(tr("Adapters attached to the loaded model"), this));
    m_list = new QListWidget(this);
    m_list->setObjectName(QStringLiteral("loraList"));
    layout->addWidget(m_list, 1);
    auto* buttons = new QHBoxLayout;
    auto* attach = new QPushButton(tr("Attach folder…"), this);
    attach->setObjectName(QStringLiteral("loraAttach"));
    auto* detach = new QPushButton(tr("Detach"), this);
    detach->setObjectName(QStringLiteral("loraDetach"));
    buttons->addWidget(attach);
    buttons->addWidget(detach);
    layout->addLayout(buttons);

    auto* form = new QFormLayout;
    m_choice = new QComboBox(this);
    m_choice->setObjectName(QStringLiteral("loraChoice"));
    form->addRow(tr("This conversation uses"), m_choice);
    m_scale = new QDoubleSpinBox(this);
    m_scale->setObjectName(QStringLiteral("loraScale"));
    m_scale->setRange(0.05, 4.0);
    m_scale->setSingleStep(0.05);
    m_scale->setValue(1.0);
    form->addRow(tr("Scale"), m_scale);
    layout->addLayout(form);
    m_message = new QLabel(this);
    m_message->setObjectName(QStringLiteral("loraMessage"));
    m_message->setWordWrap(true);
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_message);

    connect(attach, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Choose a PEFT adapter folder"));
        if (!dir.isEmpty()) attachFolder(dir);
    });
    connect(detach, &QPushButton::clicked, this, &LoraPanel::detachSelected);
    connect(m_choice, &QComboBox::currentIndexChanged, this, &LoraPanel::saveChoice);
    connect(m_scale, &QDoubleSpinBox::valueChanged, this, &LoraPanel::saveChoice);
    connect(m_engine, &EngineController::ready, this, &LoraPanel::refresh);
    connect(m_engine, &EngineController::adapterAttached, this, [this](const QString& name) {
        m_message->setText(tr("Attached %1").arg(name));
        refresh();
    });
    connect(m_engine, &EngineController::adapterDetached, this, [this](const QString& name) {
        m_message->setText(tr("Detached %1").arg(name));
        refresh();
    });
    connect(m_engine, &EngineController::adapterFailed, this, [this](const QString& name, const QString& reason) {
        m_message->setText(tr("Adapter %1 refused: %2").arg(name, reason));
    });
    refresh();
}

QString LoraPanel::message() const
{
    return m_message->text();
}

void LoraPanel::setConversation(std::optional<ConversationId> id)
{
    m_conversation = id;
    refresh();
}

void LoraPanel::attachFolder(const QString& path)
{
    if (!QFileInfo::exists(QDir(path).filePath(QStringLiteral("adapter_config.json")))) {
        m_message->setText(tr("%1 has no adapter_config.json: not a PEFT adapter folder").arg(path));
        return;
    }
    m_message->setText(tr("Attaching %1…").arg(path));
    m_engine->attachAdapter(QDir(path).dirName(), path);
}

void LoraPanel::detachSelected()
{
    const QListWidgetItem* item = m_list->currentItem();
    if (!item) {
        m_message->setText(tr("Select an adapter to detach"));
        return;
    }
    m_engine->detachAdapter(item->data(Qt::UserRole).toString());
}

void LoraPanel::refresh()
{
    m_updating = true;
    m_list->clear();
    m_choice->clear();
    m_choice->addItem(tr("Base model (no adapter)"), QString());
    for (const auto& [name, path] : m_engine->adapters()) {
        auto* item = new QListWidgetItem(tr("%1 — %2").arg(name, path), m_list);
        item->setData(Qt::UserRole, name);
        m_choice->addItem(name, name);
    }
    const bool haveConversation = m_conversation && m_store;
    m_choice->setEnabled(haveConversation);
    m_scale->setEnabled(haveConversation);
    if (haveConversation) {
        const ConversationAdapter chosen = conversationAdapter(*m_store, *m_conversation);
        const int index = m_choice->findData(QString::fromStdString(chosen.name));
        m_choice->setCurrentIndex(index >= 0 ? index : 0);
        m_scale->setValue(chosen.scale);
    }
    m_updating = false;
}

void LoraPanel::saveChoice()
{
    if (m_updating || !m_conversation || !m_store) return;
    const ConversationAdapter chosen{m_choice->currentData().toString().toStdString(), static_cast<float>(m_scale->value())};
    if (Status saved = setConversationAdapter(*m_store, *m_conversation, chosen); !saved)
        m_message->setText(QString::fromStdString(saved.error().toString()));
}

}  // namespace hearth::gui
