#include "first_run_panel.h"

#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

namespace hearth::gui {

FirstRunPanel::FirstRunPanel(const QString& modelsDir, bool hfCache, QWidget* parent) : QWidget(parent)
{
    setObjectName(QStringLiteral("firstRunPanel"));
    auto* layout = new QVBoxLayout(this);
    layout->addStretch(1);
    auto* title = new QLabel(tr("<h3>No models found</h3>"), this);
    title->setAlignment(Qt::AlignCenter);
    layout->addWidget(title);
    const QString where = hfCache ? tr("Hearth found no model on this computer: none in %1, in the folders you added, or "
                                       "in the Hugging Face cache.")
                                        .arg(modelsDir)
                                  : tr("Hearth found no model: none in %1 or in the folders you added.").arg(modelsDir);
    auto* text = new QLabel(where + QLatin1Char('\n') +
                                tr("Add a folder that holds models (Hugging Face folders with config.json and safetensors, "
                                   "or GGUF files), or create the small demo model to try the app."),
                            this);
    text->setObjectName(QStringLiteral("firstRunText"));
    text->setTextFormat(Qt::PlainText);
    text->setWordWrap(true);
    text->setAlignment(Qt::AlignCenter);
    layout->addWidget(text);

    m_addFolder = new QPushButton(tr("Add a folder…"), this);
    m_addFolder->setObjectName(QStringLiteral("firstRunAddFolder"));
    m_createDemo = new QPushButton(tr("Create the demo model"), this);
    m_createDemo->setObjectName(QStringLiteral("createDemoModel"));
    auto* demoNote = new QLabel(tr("A tiny model with random weights: it produces nonsense, but shows loading, chat "
                                   "and the local API working end to end. About 160 MB."),
                                this);
    demoNote->setObjectName(QStringLiteral("demoNote"));
    demoNote->setWordWrap(true);
    demoNote->setAlignment(Qt::AlignCenter);
    QFont small = demoNote->font();
    small.setItalic(true);
    demoNote->setFont(small);
    m_busy = new QProgressBar(this);
    m_busy->setObjectName(QStringLiteral("demoBusy"));
    m_busy->setRange(0, 0);
    m_busy->setVisible(false);
    m_message = new QLabel(this);
    m_message->setObjectName(QStringLiteral("demoMessage"));
    m_message->setWordWrap(true);
    m_message->setAlignment(Qt::AlignCenter);
    m_message->setTextFormat(Qt::PlainText);

    for (QWidget* w : {static_cast<QWidget*>(m_addFolder), static_cast<QWidget*>(m_createDemo)})
        layout->addWidget(w, 0, Qt::AlignHCenter);
    layout->addWidget(demoNote);
    layout->addWidget(m_busy);
    layout->addWidget(m_message);
    layout->addStretch(2);

    connect(m_addFolder, &QPushButton::clicked, this, &FirstRunPanel::addFolderRequested);
    connect(m_createDemo, &QPushButton::clicked, this, &FirstRunPanel::createDemoRequested);
}

void FirstRunPanel::setBusy(bool busy)
{
    m_busy->setVisible(busy);
    m_addFolder->setEnabled(!busy);
    m_createDemo->setEnabled(!busy);
    if (busy) m_message->setText(tr("Writing the demo model…"));
}

void FirstRunPanel::setMessage(const QString& message)
{
    m_message->setText(message);
}

}  // namespace hearth::gui
