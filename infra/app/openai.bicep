// Azure OpenAI with local auth off and the three deployments the product uses. Deployments of one
// account cannot be created in parallel, so each waits for the one before it.
param name string
param location string
param tags object
param skuName string

@description('{ name, version, capacity } of the chat model.')
param chatModel object

@description('{ name, version, capacity } of the model that extracts memories.')
param extractionModel object

@description('{ name, version, capacity } of the embedding model.')
param embeddingModel object

@description('Principal id of the app\'s managed identity.')
param identityPrincipalId string

@description('Object id of the deploying user; empty to skip.')
param userPrincipalId string

@description('Kind of userPrincipalId: User or ServicePrincipal.')
param userPrincipalType string

var openAiUser = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd' // Cognitive Services OpenAI User

var principals = concat(
  [
    {
      id: identityPrincipalId
      type: 'ServicePrincipal'
    }
  ],
  empty(userPrincipalId)
    ? []
    : [
        {
          id: userPrincipalId
          type: userPrincipalType
        }
      ]
)

resource account 'Microsoft.CognitiveServices/accounts@2025-06-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: name
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource chat 'Microsoft.CognitiveServices/accounts/deployments@2025-06-01' = {
  parent: account
  name: chatModel.name
  sku: {
    name: skuName
    capacity: chatModel.capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: chatModel.name
      version: chatModel.version
    }
  }
}

resource extraction 'Microsoft.CognitiveServices/accounts/deployments@2025-06-01' = {
  parent: account
  name: extractionModel.name
  sku: {
    name: skuName
    capacity: extractionModel.capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: extractionModel.name
      version: extractionModel.version
    }
  }
  dependsOn: [
    chat
  ]
}

resource embedding 'Microsoft.CognitiveServices/accounts/deployments@2025-06-01' = {
  parent: account
  name: embeddingModel.name
  sku: {
    name: skuName
    capacity: embeddingModel.capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: embeddingModel.name
      version: embeddingModel.version
    }
  }
  dependsOn: [
    extraction
  ]
}

resource openAiUsers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principal in principals: {
    name: guid(account.id, principal.id, openAiUser)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', openAiUser)
      principalId: principal.id
      principalType: principal.type
    }
  }
]

output name string = account.name
output endpoint string = account.properties.endpoint
output chatDeploymentName string = chat.name
output extractionDeploymentName string = extraction.name
output embeddingDeploymentName string = embedding.name
